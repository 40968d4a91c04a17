"""Commands end to end, the way `bookit` runs them locally: `service.bus.handle(command)` stores
the events, brings the read models up to date, runs the policies and writes the emails to the
Maildir before it returns. Rates are commands per second of wall time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common import NOW, FakeClock, fresh_store, rate, register_venues, service_for, timed

from bookit import commands as c

HOURS = range(8, 18, 2)  # five two-hour-apart slots per venue and day


def booking_slots(venues: list[str], count: int) -> list[dict[str, str]]:
    """`count` distinct one-hour slots, three days ahead and later (so nothing is due yet)."""
    slots: list[dict[str, str]] = []
    day = 0
    while len(slots) < count:
        date = (NOW + timedelta(days=3 + day)).date().isoformat()
        for venue_id in venues:
            for hour in HOURS:
                slots.append(
                    {
                        "venue_id": venue_id,
                        "date": date,
                        "start": f"{hour:02d}:00",
                        "end": f"{hour + 1:02d}:00",
                    }
                )
        day += 1
    return slots[:count]


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    books, confirms, cancels = size["book"], size["confirm"], size["cancel"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        handle = service.bus.handle
        slots = booking_slots(register_venues(service, size["venues"]), books)
        owners = [f"owner{n:04d}@example.org" for n in range(books)]
        booked: list[str] = []

        def book() -> None:
            for owner, slot in zip(owners, slots, strict=True):
                booked.append(handle(c.BookVenue(actor=owner, **slot))["booking_id"])

        def confirm() -> None:
            for n in range(confirms):
                handle(c.ConfirmBooking(actor=owners[n], booking_id=booked[n]))

        figures = {"book_per_s": rate(books, timed(book)), "confirm_per_s": rate(confirms, timed(confirm))}
        # The last `cancels` bookings (unconfirmed) each get someone waiting for their slot.
        freed = range(books - cancels, books)
        waiters = {n: f"waiter{n:04d}@example.org" for n in freed}
        entries = {n: handle(c.JoinWaitlist(actor=waiters[n], **slots[n]))["entry_id"] for n in freed}

        def cancel() -> None:
            for n in freed:
                handle(c.CancelBooking(actor=owners[n], booking_id=booked[n], reason="plans changed"))

        def claim() -> None:
            for n in freed:
                handle(c.ClaimOffer(actor=waiters[n], entry_id=entries[n]))

        figures["cancel_with_waitlist_per_s"] = rate(cancels, timed(cancel))
        figures["claim_per_s"] = rate(cancels, timed(claim))
        emails = emails_by_kind(service)
        service.close()
    if emails.get("waitlist-offer", 0) != cancels or emails.get("waitlist-claimed", 0) != cancels:
        raise AssertionError(f"every cancel should have made an offer and every claim a booking: {emails}")
    return {"figures": figures, "params": dict(size), "emails": emails}


def emails_by_kind(service: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from bookit.projections.tables import emails_sent

    query = select(emails_sent.c.kind, func.count()).group_by(emails_sent.c.kind)
    with service.engine.connect() as conn:
        return {kind: count for kind, count in conn.execute(query)}
