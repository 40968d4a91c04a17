"""Commands through a real `bookit run --bus` worker, which takes them in batches.

The same work as the `commands` scenario (bookings, confirmations, cancellations that free a
slot someone waits for, claims of the offers they make), on the same kind of store, but sent as
JSON messages over RabbitMQ to one worker process, all at once per phase. A phase's rate runs
from its first publish to its last reply; a reply comes after the command's events are stored,
the read models written and its emails delivered, so it counts the whole of it.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from common import NOW, FakeClock, fresh_store, rate, register_venues, service_for
from fleet import fleet
from throughput import booking_slots, emails_by_kind

from bookit.localtime import iso


def _body(kind: str, actor: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "command_id": str(uuid4()), "actor": actor, **fields}


def _ok(replies: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    refused = [reply for reply in replies if not reply.get("ok")]
    if refused:
        raise AssertionError(f"{len(refused)} {what} refused, e.g. {refused[0]}")
    return [reply["result"] for reply in replies]


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    books, confirms, cancels = size["book"], size["confirm"], size["cancel"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        slots = booking_slots(register_venues(service, size["venues"]), books)
        service.close()
        owners = [f"owner{n:04d}@example.org" for n in range(books)]
        freed = range(books - cancels, books)
        waiters = {n: f"waiter{n:04d}@example.org" for n in freed}
        figures: dict[str, float] = {}
        with fleet(home, url, 1, now=iso(NOW)) as worker:
            seconds, replies = worker.send(
                [_body("BookVenue", o, **s) for o, s in zip(owners, slots, strict=True)]
            )
            booked = [result["booking_id"] for result in _ok(replies, "bookings")]
            figures["book_per_s"] = rate(books, seconds)
            seconds, replies = worker.send(
                [_body("ConfirmBooking", owners[n], booking_id=booked[n]) for n in range(confirms)]
            )
            _ok(replies, "confirmations")
            figures["confirm_per_s"] = rate(confirms, seconds)
            _, replies = worker.send([_body("JoinWaitlist", waiters[n], **slots[n]) for n in freed])
            entries = dict(zip(freed, (result["entry_id"] for result in _ok(replies, "joins")), strict=True))
            seconds, replies = worker.send(
                [
                    _body("CancelBooking", owners[n], booking_id=booked[n], reason="plans changed")
                    for n in freed
                ]
            )
            _ok(replies, "cancellations")
            figures["cancel_with_waitlist_per_s"] = rate(cancels, seconds)
            seconds, replies = worker.send(
                [_body("ClaimOffer", waiters[n], entry_id=entries[n]) for n in freed]
            )
            _ok(replies, "claims")
            figures["claim_per_s"] = rate(cancels, seconds)
        service = service_for(home, url, FakeClock())
        emails = emails_by_kind(service)
        service.close()
    if emails.get("waitlist-offer", 0) != cancels or emails.get("waitlist-claimed", 0) != cancels:
        raise AssertionError(f"every cancel should have made an offer and every claim a booking: {emails}")
    return {"figures": figures, "params": dict(size), "emails": emails}
