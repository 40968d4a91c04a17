"""Several `bookit run --bus` workers on one PostgreSQL database and one RabbitMQ queue.

The store is seeded with venues; then `workers` processes are started exactly as a deployment
runs them, and once all of them consume, `commands` BookVenue messages (distinct slots spread
over the venues, so they seldom meet on one venue-day) are published with `reply_to`. The rate
is commands per second from the first publish to the last reply: a reply comes only after its
command's events are stored, its read models written and its email delivered.

While they run, a sampler looks at the database's sessions every few milliseconds and counts
what the busy ones wait for: the event store's table lock (eventsourcing takes `LOCK TABLE ...
IN EXCLUSIVE MODE` on every insert, which orders the notification ids), a row another
transaction holds (the followers' tracked positions are read FOR UPDATE), or nothing (working).
That says where the ceiling comes from.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any
from uuid import uuid4

import psycopg
from common import NOW, FakeClock, fresh_store, rate, register_venues, service_for
from fleet import fleet
from throughput import booking_slots

from bookit.localtime import iso

_WAITS = """
SELECT a.wait_event_type, l.locktype, c.relname
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
LEFT JOIN pg_class c ON c.oid = l.relation
WHERE a.datname = current_database() AND a.state = 'active' AND a.pid <> pg_backend_pid()
"""


def _what(wait_type: str | None, lock_type: str | None, relation: str | None) -> str:
    if wait_type != "Lock":
        return "working (or waiting on I/O, the client)"
    if lock_type == "relation":
        return f"table lock on {relation}"
    if lock_type == "tuple":
        return f"row lock on {relation}"
    if lock_type == "transactionid":
        return "a row another transaction holds"
    return f"{lock_type or 'a'} lock"  # an advisory lock at start, or granted before it was seen


class Sampler(threading.Thread):
    """Counts, every few ms, what each busy session of the database is doing."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.005):
                self.samples += 1
                for wait_type, lock_type, relation in conn.execute(_WAITS):
                    self.seen[_what(wait_type, lock_type, relation)] += 1

    def shares(self) -> dict[str, float]:
        busy = sum(self.seen.values())
        return {what: round(n / busy, 3) for what, n in self.seen.most_common()} if busy else {}


def run(store: str, size: dict[str, Any]) -> dict[str, Any]:
    if store == "sqlite":
        raise ValueError("several workers on one store: PostgreSQL only")
    workers, count = size["workers"], size["commands"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        slots = booking_slots(register_venues(service, size["venues"]), count)
        service.close()
        bodies = [
            {"type": "BookVenue", "command_id": str(uuid4()), "actor": f"owner{n:05d}@example.org"} | slot
            for n, slot in enumerate(slots)
        ]
        # The workers run on the benchmark's clock, not the real one: the slots are days after
        # NOW, and on the real clock they were in the past from 4 December 2026 (every booking
        # refused `in_the_past`, no scale figures).
        with fleet(home, url, workers, now=iso(NOW)) as running:
            sampler = Sampler(url)
            sampler.start()
            seconds, replies = running.send(bodies)
            sampler.stop.set()
            sampler.join()
    refused = [reply for reply in replies if not reply.get("ok")]
    if refused:
        raise AssertionError(f"{len(refused)} of {count} bookings were refused: {refused[0]}")
    return {
        "figures": {"commands_per_s": rate(count, seconds)},
        "params": dict(size),
        "waits": sampler.shares(),
    }
