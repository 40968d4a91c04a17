"""What every scenario shares: a fresh store, a fake clock, timing, peak memory, bulk seeding.

Each scenario runs in its own process (see run.py), so `peak_rss_mb` is that scenario's own
high-water mark. A store is always fresh: a temp dir for SQLite, a new database for PostgreSQL,
dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from eventsourcing.application import AggregateNotFoundError

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, Cause, derived_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.venue_day import VenueDay
from bookit.bootstrap import Service, bootstrap
from bookit.projections.database import advance, position_of

PG_ADMIN = os.environ.get("BOOKIT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
VENUE_TZ = "UTC"  # seeded venues use UTC so local dates and instants line up simply


@dataclass
class FakeClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def postgres_reachable() -> bool:
    parts = urlsplit(PG_ADMIN)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1).close()
    except OSError:
        return False
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_store(store: str) -> Iterator[tuple[Path, str]]:
    """(home dir, --store value) on an empty store of the given kind."""
    with tempfile.TemporaryDirectory(prefix="bookit-bench-") as home:
        if store == "sqlite":
            yield Path(home), "sqlite"
            return
        name = f"bookit_bench_{uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(PG_ADMIN)
        try:
            yield Path(home), urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_for(home: Path, store: str, clock: FakeClock) -> Service:
    """A BookIT service exactly as `bookit` builds it, on the given home and store."""
    return bootstrap(home, store=store, clock=clock)


def register_venues(service: Service, count: int) -> list[str]:
    ids = [f"venue-{n:03d}" for n in range(count)]
    for venue_id in ids:
        service.bus.handle(c.RegisterVenue(actor=SYSTEM, name=venue_id, tz=VENUE_TZ, venue_id=venue_id))
    return ids


def hourly_plan(venues: list[str], count: int, first_day: date) -> list[tuple[str, datetime, datetime]]:
    """`count` one-hour slots from 08:00 to 18:00 UTC, venue by venue, day after day."""
    plan: list[tuple[str, datetime, datetime]] = []
    day = datetime.combine(first_day, datetime.min.time(), UTC)
    while len(plan) < count:
        for venue_id in venues:
            for hour in range(8, 18):
                starts_at = day + timedelta(hours=hour)
                plan.append((venue_id, starts_at, starts_at + timedelta(hours=1)))
        day += timedelta(days=1)
    return plan[:count]


def seed_bookings(
    service: Service,
    plan: list[tuple[str, datetime, datetime]],
    *,
    receipts: bool = True,
    confirm_every: int = 0,
    cancel_every: int = 0,
    chunk: int = 300,
) -> list[Any]:
    """Save a booking for each (venue, start, end) of the plan straight through the application.

    The bulk path: venue-days and bookings are built by the domain's own methods and saved in
    large atomic saves, with a receipt per command when asked, the way commands would have left
    them, only without a command round trip each. Returns the bookings.
    """
    app = service.app
    now = service.bus.clock()
    days: dict[Any, Any] = {}
    made: list[Any] = []
    pending: dict[Any, Any] = {}
    for n, (venue_id, starts_at, ends_at) in enumerate(plan):
        date = starts_at.date().isoformat()
        day_id = VenueDay.id_for(venue_id, date)
        if day_id not in days:
            opening = Cause("seed@example.org", str(uuid4()), now)
            try:
                days[day_id] = app.repository.get(day_id)
            except AggregateNotFoundError:
                days[day_id] = VenueDay.open(venue_id, date, opening)
        venue_day = days[day_id]
        user = f"user{n % 500:03d}@example.org"
        cause = Cause(user, str(uuid4()), now)
        booking_id = derived_id("booking", cause.command_id)
        venue_day.take(booking_id, user, starts_at, ends_at, cause)
        booking = Booking.book(
            booking_id,
            venue_id=venue_id,
            user=user,
            date=date,
            start=f"{starts_at:%H:%M}",
            end=f"{ends_at:%H:%M}",
            starts_at=starts_at,
            ends_at=ends_at,
            purpose="seeded",
            rules=app.rules,
            cause=cause,
        )
        outcome = {"booking_id": str(booking_id), "status": booking.status}
        handled = [CommandReceipt.handled("BookVenue", outcome, cause)]
        if confirm_every and n % confirm_every == 0:
            confirmation = Cause(user, str(uuid4()), now)
            booking.confirm(confirmation)
            handled.append(CommandReceipt.handled("ConfirmBooking", outcome, confirmation))
        elif cancel_every and n % cancel_every == 1:
            cancellation = Cause(user, str(uuid4()), now)
            booking.cancel("seeded", cancellation)
            venue_day.release(booking.id, cancellation)
            handled.append(CommandReceipt.handled("CancelBooking", outcome, cancellation))
        for aggregate in (venue_day, booking, *(handled if receipts else ())):
            pending[aggregate.id] = aggregate
        made.append(booking)
        if len(pending) >= chunk:
            app.save(*pending.values())
            pending = {}
    if pending:
        app.save(*pending.values())
    return made


def settle_seed(service: Service, progress: Callable[[int], None] | None = None) -> None:
    """Project the seeded events, and count their receipts' emails as already sent.

    The seed stands for history that a running service has long since handled; without this
    the first measured tick would project and mail the whole seed.
    """
    service.projector.catch_up(progress)
    last = service.app.recorder.max_notification_id() or 0
    with service.engine.begin() as conn:
        advance(conn, service.mailer.name, position_of(conn, service.mailer.name), last)
