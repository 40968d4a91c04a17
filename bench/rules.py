"""Issue 12's bench figure: the booking rate with every venue rule on, over the rate with none.

Two fresh stores, the same bookings: one whose venues have no rules, one whose venues have a
buffer, a booking window, durations, a bookings and an hours quota per week (high enough never
to refuse, so every booking is counted: one quota counter per user and week), check-in, a
late-cancel window and strikes. Each booking then also loads the admin roster (admins book over
buffers and outside quotas), loads and saves its quota counter, reads the user's strike record,
and owes two more due timers (check-in opens, no-show). The two are run in alternating rounds and
the best round of each is kept, so a busy moment on a shared machine, or the first round's
warming up, hurts both alike.
"""

from __future__ import annotations

from typing import Any

from common import FakeClock, fresh_store, rate, register_venues, service_for, timed
from throughput import booking_slots

from bookit import commands as c
from bookit.aggregates.base import SYSTEM

ALL_RULES: dict[str, Any] = {
    "buffer_minutes": 15,
    "min_notice_minutes": 60,
    "max_advance_days": 60,
    "min_duration_minutes": 30,
    "max_duration_minutes": 180,
    "quota_bookings": "1000/week",
    "quota_hours": "5000/week",
    "check_in_minutes": 15,
    "late_cancel_minutes": 120,
    "no_show_strikes": 3,
    "strike_days": 30,
}


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    books, users, rounds = size["book"], size["users"], size.get("rounds", 2)
    best = {False: 0.0, True: 0.0}
    with fresh_store(store) as (plain_home, plain_url), fresh_store(store) as (ruled_home, ruled_url):
        services = {
            False: service_for(plain_home, plain_url, FakeClock()),
            True: service_for(ruled_home, ruled_url, FakeClock()),
        }
        slots: list[dict[str, str]] = []
        for with_rules, service in services.items():
            venues = register_venues(service, size["venues"])
            if with_rules:
                for venue_id in venues:
                    service.bus.handle(c.SetVenueRules(actor=SYSTEM, venue_id=venue_id, **ALL_RULES))
            slots = booking_slots(venues, books * rounds)
        # Alternating rounds, the same bookings in both stores; the best round of each counts.
        for n in range(rounds):
            batch = slots[n * books : (n + 1) * books]
            for with_rules, service in services.items():

                def book(batch: list[dict[str, str]] = batch, service: Any = service, n: int = n) -> None:
                    for k, slot in enumerate(batch):
                        owner = f"owner{(n * books + k) % users:03d}@example.org"
                        service.bus.handle(c.BookVenue(actor=owner, **slot))

                best[with_rules] = max(best[with_rules], rate(books, timed(book)))
        for service in services.values():
            service.close()
    figures = {"book_no_rules_per_s": best[False], "book_all_rules_per_s": best[True]}
    return {"figures": figures, "params": dict(size)}
