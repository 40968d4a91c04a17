"""`bookit check`: every stored event read once through the invariant checker, and every owed
email compared with the sent record.

The store is seeded in bulk like the replay scenario (bookings, half confirmed, one in ten
cancelled, with receipts), projected, and mailed for real into a sink outbox, so the email half
of the check has a full record to compare. The figure is events checked per second, read
against the raw read+decode floor of the same run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from common import NOW, FakeClock, fresh_store, hourly_plan, rate, register_venues, seed_bookings

from bookit.adapters.mail import OneByOne
from bookit.audit.check import check_store
from bookit.bootstrap import bootstrap

EVENTS_PER_BOOKING = 4.4  # as in replay.py


class Sink(OneByOne):
    """Takes every message and keeps none: the bench measures the check, not a mailbox."""

    def deliver(self, message: EmailMessage) -> None:
        pass

    def deliver_all(self, messages: Sequence[EmailMessage]) -> Any:
        return super().deliver_all(messages)


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    with fresh_store(store) as (home, url):
        service = bootstrap(home, store=url, clock=FakeClock(), outbox=Sink())
        venues = register_venues(service, max(1, min(50, size["events"] // 2000)))
        plan = hourly_plan(
            venues, int(size["events"] / EVENTS_PER_BOOKING) + 1, (NOW + timedelta(days=7)).date()
        )
        seed_bookings(service, plan, confirm_every=2, cancel_every=10)
        service.projector.catch_up()
        while service.mailer.catch_up(NOW)[0]:
            pass
        total = service.app.recorder.max_notification_id() or 0
        # Measured as the floor is: the best of a few passes over the same store.
        seconds = float("inf")
        for _ in range(size.get("passes", 3)):
            started = time.perf_counter()
            problems = check_store(service.app, service.engine)
            seconds = min(seconds, time.perf_counter() - started)
        service.close()
    figures = {"check_events_per_s": rate(total, seconds)}
    return {"figures": figures, "params": dict(size, events_checked=total, violations=len(problems))}
