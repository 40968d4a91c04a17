"""Loading a long-lived aggregate, with and without snapshots, as its history grows.

A busy venue-day keeps about ten bookings live while others come and go (take, release); a long
waitlist keeps about ten people waiting while others join and leave. Each history is written
once, then loaded by `BookIT` (which snapshots every 50 events) and by the same application with
snapshotting switched off. With snapshots, loading replays at most 50 events after the latest
snapshot, so its cost follows the aggregate's state, not the length of its history.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from common import NOW, fresh_store, median_ms

from bookit.aggregates.base import Cause, derived_id
from bookit.aggregates.venue_day import VenueDay
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.application import BookIT
from bookit.bootstrap import store_env

LIVE = 10  # what stays taken, or waiting, while the history grows
DAY = datetime(2026, 12, 20, tzinfo=UTC)


class WithoutSnapshots(BookIT):
    snapshotting_intervals = {}


def _cause() -> Cause:
    return Cause("someone@example.org", str(uuid4()), NOW)


def busy_venue_day(app: BookIT, events: int, name: str) -> Any:
    day = VenueDay.open(name, DAY.date().isoformat(), _cause())
    live: list[Any] = []
    n = 0
    while day.version < events:
        if len(live) < LIVE or day.version % 2:
            booking_id = derived_id("bench-booking", name, n)
            starts_at = DAY + timedelta(minutes=n % 1440)
            day.take(
                booking_id, f"user{n}@example.org", starts_at, starts_at + timedelta(seconds=1), _cause()
            )
            live.append(booking_id)
            n += 1
        else:
            day.release(live.pop(0), _cause())
        if day.version % 100 == 0:
            app.save(day)
    app.save(day)
    return day.id


def long_waitlist(app: BookIT, events: int, name: str) -> Any:
    starts_at = DAY + timedelta(hours=10)
    ends_at = starts_at + timedelta(hours=1)
    slot = WaitlistSlot.open(name, DAY.date().isoformat(), "10:00", "11:00", starts_at, ends_at, _cause())
    waiting: list[tuple[str, str]] = []
    n = 0
    while slot.version < events:
        if len(waiting) < LIVE or slot.version % 2:
            user = f"user{n}@example.org"
            entry_id = derived_id("bench-entry", name, n)
            slot.join(entry_id, user, 0, Cause(user, str(uuid4()), NOW))
            waiting.append((str(entry_id), user))
            n += 1
        else:
            entry_id, user = waiting.pop(0)
            slot.leave(entry_id, Cause(user, str(uuid4()), NOW))
        if slot.version % 100 == 0:
            app.save(slot)
    app.save(slot)
    return slot.id


def load_ms(app: BookIT, ident: Any, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        app.repository.get(ident)
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def run(store: str, size: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, float] = {}
    errors: list[str] = []
    with fresh_store(store) as (home, url):
        env, _ = store_env(home, url)
        plain, snapshotting = WithoutSnapshots(env=env), BookIT(env=env)
        for kind, build in (("venue_day", busy_venue_day), ("waitlist", long_waitlist)):
            for events in size["histories"]:
                ident = build(plain, events, f"{kind}-{events}")
                figures[f"{kind}_{events}_without_ms"] = load_ms(plain, ident, size["repeats"])
                try:
                    # What BookIT.save does at every 50th event. Only the latest matters, and
                    # it is taken 50 events back: the most a load ever has to replay after it.
                    snapshotting.take_snapshot(ident, version=(events - 1) // 50 * 50)
                    figures[f"{kind}_{events}_with_ms"] = load_ms(snapshotting, ident, size["repeats"])
                except Exception as error:
                    errors.append(f"{kind} snapshot at {events} events: {type(error).__name__}: {error}")
        plain.close()
        snapshotting.close()
    return {"figures": figures, "params": dict(size), "errors": errors}
