"""Aggregates kept between commands (`bookit.kept_copies`): a worker decides on what the store
holds, whoever wrote it, exactly as if it had loaded every aggregate afresh.

Two services on one real store stand for two processes (a worker and the command line, or two
workers): what one writes, the other's next command sees.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_tick_groups import (  # noqa: F401  (same_link_secret: an autouse fixture)
    World,
    same_link_secret,
    story,
    what_it_left,
    world_in,
)

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.venue_day import VenueDay
from bookit.bootstrap import Service, bootstrap
from bookit.errors import Refused
from bookit.testing import FakeClock

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = "2026-12-03"
ADMIN = "admin@example.com"


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Two services on one home: one SQLite event store, one set of read models."""
    first = bootstrap(tmp_path, clock=FakeClock(NOW))
    second = bootstrap(tmp_path, clock=FakeClock(NOW))
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def book(service: Service, user: str, start: str, end: str) -> dict[str, Any]:
    return service.bus.handle(c.BookVenue(actor=user, venue_id="hall", date=DAY, start=start, end=end))


def test_a_kept_venue_obeys_rules_another_process_set_since(two: tuple[Service, Service]) -> None:
    worker, other = two
    worker.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall"))
    worker.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    book(worker, "ann@example.com", "10:00", "11:00")  # the worker now keeps the hall and its day

    other.bus.handle(c.SetVenueRules(actor=ADMIN, venue_id="hall", buffer_minutes=30))

    # The booking touches the day, not the venue, so only bringing the kept venue up to date
    # (not the store's check on the day's version) can turn it down.
    with pytest.raises(Refused) as refused:
        book(worker, "bob@example.com", "11:10", "12:00")
    assert "30 minutes are kept free" in refused.value.message


def test_a_kept_day_that_another_process_booked_on_refuses_the_overlap(
    two: tuple[Service, Service],
) -> None:
    worker, other = two
    worker.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall"))
    book(worker, "ann@example.com", "09:00", "10:00")
    book(other, "bob@example.com", "10:00", "11:00")

    with pytest.raises(Refused) as refused:
        book(worker, "cat@example.com", "10:30", "11:30")
    assert refused.value.code == "slot_taken"
    day = worker.app.maybe(VenueDay, VenueDay.id_for("hall", DAY))
    assert day is not None and len(day.taken) == 2


def test_a_command_whose_save_fails_leaves_nothing_of_it_in_the_next_commands_copies(
    two: tuple[Service, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue-day took the interval in memory, then the store failed: the next command must
    decide on the day as stored, which does not have it."""
    worker, _ = two
    worker.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall"))
    book(worker, "ann@example.com", "09:00", "10:00")
    app = worker.app
    record = app._record

    def store_fails(processing: Any) -> Any:
        monkeypatch.setattr(app, "_record", record)  # once
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(app, "_record", store_fails)
    with pytest.raises(sqlite3.OperationalError):
        book(worker, "bob@example.com", "10:00", "11:00")

    assert book(worker, "cat@example.com", "10:00", "11:00")["status"] == "booked"


def test_threads_booking_one_day_at_once_each_get_the_store_answer(two: tuple[Service, Service]) -> None:
    """The HTTP API's threads and the worker share one process's copies: each slot of the day is
    booked once, whoever asked for it and whichever copy they decided on."""
    service, _ = two
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall"))
    slots = [(f"{8 + n:02d}:00", f"{9 + n:02d}:00") for n in range(12)]
    outcomes: list[tuple[str, str]] = []
    unexpected: list[Exception] = []

    def ask(user: str) -> None:
        for start, end in slots:
            try:
                app_outcome = service.app.handle(
                    c.BookVenue(actor=user, venue_id="hall", date=DAY, start=start, end=end), NOW
                )
                outcomes.append((start, str(app_outcome["booking_id"])))
            except Refused as refused:
                if refused.code not in ("slot_taken", "contention"):
                    unexpected.append(refused)
            except Exception as error:  # noqa: BLE001  (reported below, not lost in the thread)
                unexpected.append(error)

    threads = [threading.Thread(target=ask, args=(f"user{n}@example.com",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert unexpected == []
    day = service.app.maybe(VenueDay, VenueDay.id_for("hall", DAY))
    assert day is not None
    assert sorted(start for start, _ in outcomes) == sorted(start for start, _ in slots)  # each once
    assert sorted(str(b) for b in day.taken) == sorted(booking for _, booking in outcomes)


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[World]:
    yield from world_in(tmp_path / "kept")


@pytest.fixture
def loaded_each_time(tmp_path: Path) -> Iterator[World]:
    for world in world_in(tmp_path / "loaded"):
        world.service.app.kept_copies = 0
        yield world


def test_kept_copies_leave_the_events_snapshots_read_models_and_emails_of_loading_each_time(
    kept: World, loaded_each_time: World
) -> None:
    """Forty bookings on one venue-day (past a snapshot), queues, confirmations and ticks that
    auto-cancel and offer: the same script leaves the same store, byte for byte."""
    told = story(kept)
    assert story(loaded_each_time) == told
    left, reference = what_it_left(kept.service), what_it_left(loaded_each_time.service)
    assert left["snapshots"]
    for part in ("events", "snapshots", "read models", "emails"):
        assert left[part] == reference[part], part
