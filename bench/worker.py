"""Commands through real `bookit run --bus` processes, which take them in batches.

The same work as the `commands` scenario (bookings, confirmations, cancellations that free a
slot someone waits for, claims of the offers they make), on the same kind of store, but sent as
JSON messages over RabbitMQ, all at once per phase, to two deployments on fresh stores:

- one `bookit run` worker that runs each batch's commands and then its followers (`*_per_s`);
- `bookit run --processes 2`: a command worker that only decides and saves, and a followers
  process that projects, mails and relays (`*_split_per_s`). The worker holds each reply until
  the followers' settled mark has passed the batch, taking the next batch meanwhile.

A phase's rate runs from its first publish to its last reply, and, for the split deployment,
on until the settled mark has passed the last stored event (it has by then, unless a reply gave
up waiting): either way the read models are current and the emails delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

from common import NOW, FakeClock, fresh_store, rate, register_venues, service_for
from fleet import fleet
from throughput import booking_slots, emails_by_kind

from bookit.localtime import iso
from bookit.settled import settled_position

DEPLOYMENTS = {"": (), "_split": ("--processes", "2")}  # figure suffix: `bookit run` options
SETTLE_TIMEOUT = 120.0


def _body(kind: str, actor: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "command_id": str(uuid4()), "actor": actor, **fields}


def _ok(replies: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    refused = [reply for reply in replies if not reply.get("ok")]
    if refused:
        raise AssertionError(f"{len(refused)} {what} refused, e.g. {refused[0]}")
    return [reply["result"] for reply in replies]


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    figures: dict[str, float] = {}
    emails: dict[str, dict[str, int]] = {}
    for suffix, options in DEPLOYMENTS.items():
        with fresh_store(store) as (home, url):
            figures |= {
                f"{phase}{suffix}_per_s": value for phase, value in _phases(home, url, size, options).items()
            }
            service = service_for(home, url, FakeClock())
            emails[suffix.strip("_") or "one"] = emails_by_kind(service)
            service.close()
    cancels = size["cancel"]
    for deployment, sent in emails.items():
        if sent.get("waitlist-offer", 0) != cancels or sent.get("waitlist-claimed", 0) != cancels:
            raise AssertionError(
                f"{deployment}: every cancel should have made an offer and every claim a booking: {sent}"
            )
    return {"figures": figures, "params": dict(size), "emails": emails}


def _phases(home: Path, url: str, size: dict[str, int], options: tuple[str, ...]) -> dict[str, float]:
    books, confirms, cancels = size["book"], size["confirm"], size["cancel"]
    service = service_for(home, url, FakeClock())
    slots = booking_slots(register_venues(service, size["venues"]), books)
    owners = [f"owner{n:04d}@example.org" for n in range(books)]
    freed = range(books - cancels, books)
    waiters = {n: f"waiter{n:04d}@example.org" for n in freed}
    followed = _followed(service) if options else (lambda: 0.0)
    figures: dict[str, float] = {}
    try:
        with fleet(home, url, 1, now=iso(NOW), options=options) as worker:
            followed()  # the followers process is up (it has followed the venues): not timed

            def phase(bodies: list[dict[str, Any]], what: str) -> tuple[float, list[dict[str, Any]]]:
                seconds, replies = worker.send(bodies)
                return seconds + followed(), _ok(replies, what)

            seconds, results = phase(
                [_body("BookVenue", o, **s) for o, s in zip(owners, slots, strict=True)], "bookings"
            )
            booked = [result["booking_id"] for result in results]
            figures["book"] = rate(books, seconds)
            bodies = [_body("ConfirmBooking", owners[n], booking_id=booked[n]) for n in range(confirms)]
            figures["confirm"] = rate(confirms, phase(bodies, "confirmations")[0])
            _, results = phase([_body("JoinWaitlist", waiters[n], **slots[n]) for n in freed], "joins")
            entries = dict(zip(freed, (result["entry_id"] for result in results), strict=True))
            bodies = [
                _body("CancelBooking", owners[n], booking_id=booked[n], reason="plans changed") for n in freed
            ]
            figures["cancel_with_waitlist"] = rate(cancels, phase(bodies, "cancellations")[0])
            bodies = [_body("ClaimOffer", waiters[n], entry_id=entries[n]) for n in freed]
            figures["claim"] = rate(cancels, phase(bodies, "claims")[0])
    finally:
        service.close()
    return figures


def _followed(service: Any) -> Callable[[], float]:
    """Seconds from now until the followers' settled mark passes the last stored event."""

    def wait() -> float:
        started = time.perf_counter()
        last = service.app.recorder.max_notification_id() or 0
        while settled_position(service.engine) < last:
            if time.perf_counter() - started > SETTLE_TIMEOUT:
                raise RuntimeError(f"the followers did not pass event {last} in {SETTLE_TIMEOUT:.0f}s")
            time.sleep(0.01)
        return time.perf_counter() - started

    return wait
