"""`bookit replay`: drop the read models and rebuild them from every stored event.

The store is seeded in bulk with bookings, half of them confirmed and one in ten cancelled,
each with its command receipt, so the mix of events is what commands leave behind.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from common import NOW, FakeClock, fresh_store, hourly_plan, rate, register_venues, seed_bookings, service_for

from bookit.projections.rebuild import rebuild

EVENTS_PER_BOOKING = 4.4  # booked, interval taken, receipt; +2 per confirm, +3 per cancel; day opened


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        venues = register_venues(service, max(1, min(50, size["events"] // 2000)))
        plan = hourly_plan(
            venues, int(size["events"] / EVENTS_PER_BOOKING) + 1, (NOW + timedelta(days=7)).date()
        )
        seed_bookings(service, plan, confirm_every=2, cancel_every=10)
        # Measured as the floor is: the best of a few passes. Each pass is a whole `bookit
        # replay`; after the first, it also deletes the rows the pass before it wrote.
        seconds = float("inf")
        for _ in range(size.get("passes", 3)):
            started = time.perf_counter()
            applied = rebuild(service.app, service.engine)
            seconds = min(seconds, time.perf_counter() - started)
        service.close()
    return {"figures": {"replay_events_per_s": rate(applied, seconds)}, "params": dict(size, applied=applied)}
