"""Ticks in bulk: a tick's due commands, and the follow-ups the mailer asks for, are stored in
one atomic save per group (`bookit.unit_of_work`), and nobody can tell from what it leaves.

The reference is the same service with each of those commands saved on its own, as before
groups: the same script of commands with the same ids on both gives the same stored events
(byte for byte, in the same order), the same snapshots, read models and emails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from servers import pg_store  # noqa: F401  (a fixture)

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.receipt import CommandReceipt
from bookit.bootstrap import Service, bootstrap
from bookit.errors import BookitError, NotFound, Refused
from bookit.projections import queries
from bookit.projections.rebuild import dump
from bookit.testing import FakeClock
from bookit.unit_of_work import Group

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = "2026-12-02"  # the venue is in London: in December its wall clock is UTC
IDS = UUID("0d15ea5e-0000-4000-8000-000000000000")


def cid(name: str) -> UUID:
    return uuid5(IDS, name)


def one_save_each(service: Service) -> None:
    """Make `service` store each system command on its own, as it did before groups."""
    app = service.app

    def handle_all(commands: list[c.Command], now: datetime) -> list[Any]:
        results: list[Any] = []
        for command in commands:
            try:
                results.append(app.handle(command, now))
            except BookitError as error:
                results.append(error)
        return results

    app.handle_all = handle_all  # type: ignore[method-assign]


class World:
    def __init__(self, service: Service, clock: FakeClock) -> None:
        self.service, self.clock = service, clock

    def send(self, key: str, cls: type[c.Command], **fields: Any) -> dict[str, Any]:
        return self.service.bus.handle(c.build(cls, command_id=cid(key), **fields))

    def book(self, name: str, user: str, start: str, end: str) -> str:
        fields = {"actor": user, "venue_id": "hall", "date": DAY, "start": start, "end": end}
        return str(self.send(name, c.BookVenue, **fields)["booking_id"])

    def join(self, name: str, user: str, start: str, end: str) -> str:
        fields = {"actor": user, "venue_id": "hall", "date": DAY, "start": start, "end": end}
        return str(self.send(name, c.JoinWaitlist, **fields)["entry_id"])

    def tick(self, at: datetime) -> dict[str, Any]:
        self.clock.now = at
        return self.service.bus.handle(c.Tick(now=at))

    def status(self, booking_id: str) -> str:
        row = queries.booking(self.service.engine, booking_id)
        assert row is not None
        return str(row["status"])


def story(world: World) -> dict[str, Any]:
    """Forty quarter-hour bookings on one venue-day (long enough for a snapshot) and two queues;
    ticks at which all the reminders fall due at once, then several auto-cancellations on that
    venue-day, then offers expiring on it while another of its bookings is auto-cancelled."""
    world.send("venue", c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall")
    bookings = []
    for n in range(40):
        start = datetime(2026, 12, 2, 10, 0) + timedelta(minutes=15 * n)
        end = start + timedelta(minutes=15)
        bookings.append(world.book(f"book-{n}", f"u{n}@example.com", f"{start:%H:%M}", f"{end:%H:%M}"))
    world.send("confirm-5", c.ConfirmBooking, actor="u5@example.com", booking_id=bookings[5])
    entries = [
        world.join("join-a", "w0@example.com", "10:00", "10:15"),
        world.join("join-b", "w1@example.com", "10:00", "10:15"),
        world.join("join-c", "w2@example.com", "10:15", "10:30"),
    ]
    ticks = [
        world.tick(datetime(2026, 12, 1, 20, 0, tzinfo=UTC)),  # every reminder is due
        world.tick(datetime(2026, 12, 2, 8, 20, tzinfo=UTC)),  # 10:00, 10:15 auto-cancelled
        world.tick(datetime(2026, 12, 2, 8, 35, tzinfo=UTC)),  # offers expire; 10:30 auto-cancelled
        world.tick(datetime(2026, 12, 2, 9, 50, tzinfo=UTC)),  # 10:45 - 11:45 (one confirmed)
    ]
    return {"bookings": bookings, "entries": entries, "ticks": ticks}


_UNTRACED = re.compile(rb',"traceparent":"[0-9a-f-]{55}"')
_UNTRACED_TEXT = re.compile(r',? ?"traceparent": ?"[0-9a-f-]{55}"')


def _untraced(tables: dict[str, Any]) -> dict[str, Any]:
    """The read models without the trace ids the audit rows copy from their events."""
    return {
        name: [
            tuple(_UNTRACED_TEXT.sub("", cell) if isinstance(cell, str) else cell for cell in row)
            for row in rows
        ]
        for name, rows in tables.items()
    }


def what_it_left(service: Service) -> dict[str, Any]:
    app = service.app
    # A trace BookIT starts for a command that came without one has random ids, like a request
    # id: it says which run stored the event, not what was decided, so it is left out here.
    stored = [
        (n.id, n.originator_id, n.originator_version, n.topic, _UNTRACED.sub(b"", n.state))
        for n in app.recorder.select_notifications(start=1, limit=10**6)
    ]
    ids = {originator for _, originator, *_ in stored}
    assert app.snapshots is not None
    # A snapshot's own timestamp is the system clock's; what it holds is the aggregate.
    snapshots = {
        ident: [(s.originator_version, s.topic, s.state) for s in app.snapshots.get(ident)] for ident in ids
    }
    emails = {}
    for path in (service.home / "outbox" / "new").iterdir():
        raw = path.read_bytes()
        message = BytesParser(policy=default_policy).parsebytes(raw)
        boundary = message.get_boundary()  # the one random part of an email
        emails[str(message["Message-ID"])] = raw.replace(boundary.encode(), b"-") if boundary else raw
    return {
        "events": stored,
        "snapshots": {k: v for k, v in snapshots.items() if v},
        "read models": _untraced(dump(service.engine)),
        "emails": emails,
    }


def world_in(home: Path) -> Iterator[World]:
    clock = FakeClock(START)
    service = bootstrap(home, clock=clock)
    try:
        yield World(service, clock)
    finally:
        service.close()


@pytest.fixture(autouse=True)
def same_link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both worlds sign their email links alike (each home would make its own secret)."""
    monkeypatch.setenv("BOOKIT_SECRET", "one secret for both worlds")


@pytest.fixture
def grouped(tmp_path: Path) -> Iterator[World]:
    yield from world_in(tmp_path / "grouped")


@pytest.fixture
def one_by_one(tmp_path: Path) -> Iterator[World]:
    for world in world_in(tmp_path / "one-by-one"):
        one_save_each(world.service)
        yield world


def test_ticks_in_groups_leave_the_events_snapshots_read_models_and_emails_of_one_save_each(
    grouped: World, one_by_one: World
) -> None:
    told = story(grouped)
    assert story(one_by_one) == told
    assert [t["handled"] for t in told["ticks"]] == [40, 2, 3, 5]
    left, reference = what_it_left(grouped.service), what_it_left(one_by_one.service)
    assert len(left["emails"]) > 40 and left["snapshots"]  # reminders and offers; a long venue-day
    for part in ("events", "snapshots", "read models", "emails"):
        assert left[part] == reference[part], part


def happened_at(world: World, hour: int, minute: int) -> set[tuple[str, str]]:
    """(topic, whose) of every event stored at that instant of the day: whose is the booking or
    the waitlist entry it is about."""
    at = datetime(2026, 12, 2, hour, minute, tzinfo=UTC)
    app = world.service.app
    found = set()
    for notification in app.recorder.select_notifications(start=1, limit=10**6):
        event = app.mapper.to_domain_event(notification)
        if event.timestamp == at and notification.topic != "command.handled":
            whose = getattr(event, "entry_id", None) or getattr(event, "booking_id", None)
            found.add((notification.topic, str(whose or event.originator_id)))
    return found


def test_auto_cancels_and_expiring_offers_on_one_venue_day_in_one_tick_all_take_effect(
    grouped: World,
) -> None:
    told = story(grouped)
    b, (w0, w1, w2) = told["bookings"], told["entries"]
    # 08:20: the 10:00 and 10:15 bookings, both on the one venue-day, are auto-cancelled, and
    # each freed quarter is offered to its queue.
    assert happened_at(grouped, 8, 20) == {
        ("booking.auto_cancelled", b[0]),
        ("venue_day.interval_released", b[0]),
        ("venue_day.interval_held", w0),
        ("waitlist.notified", w0),
        ("booking.auto_cancelled", b[1]),
        ("venue_day.interval_released", b[1]),
        ("venue_day.interval_held", w2),
        ("waitlist.notified", w2),
    }
    # 08:35: both offers run out on that venue-day while its 10:30 booking is auto-cancelled;
    # the 10:00 queue's offer passes to the next in line, the 10:15 queue has nobody left.
    assert happened_at(grouped, 8, 35) == {
        ("booking.auto_cancelled", b[2]),
        ("venue_day.interval_released", b[2]),
        ("waitlist.expired", w2),
        ("venue_day.hold_lifted", w2),
        ("waitlist.expired", w0),
        ("venue_day.hold_lifted", w0),
        ("waitlist.notified", w1),
        ("venue_day.interval_held", w1),
    }
    status = [grouped.status(booking) for booking in b]
    assert status[:8] == ["auto_cancelled"] * 5 + ["confirmed"] + ["auto_cancelled"] * 2
    assert set(status[8:]) == {"booked"}


def test_a_refused_command_in_the_middle_of_a_group_leaves_the_others_effects(grouped: World) -> None:
    world = grouped
    world.send("venue", c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall")
    first = world.book("book-1", "u1@example.com", "10:00", "11:00")
    second = world.book("book-2", "u2@example.com", "11:00", "12:00")
    commands = [
        c.SendReminder(command_id=cid("remind-1"), actor=SYSTEM, booking_id=UUID(first)),
        c.ConfirmBooking(command_id=cid("stranger"), actor="x@example.com", booking_id=UUID(second)),
        c.SendReminder(command_id=cid("nobody"), actor=SYSTEM, booking_id=cid("no such booking")),
        c.SendReminder(command_id=cid("remind-2"), actor=SYSTEM, booking_id=UUID(second)),
    ]
    results = world.service.bus.run_all(commands, world.clock.now)
    assert isinstance(results[1], Refused) and isinstance(results[2], NotFound)
    assert results[0] == {"booking_id": first, "reminded": True}
    assert results[3] == {"booking_id": second, "reminded": True}
    app = world.service.app
    assert app.outcome_of(cid("stranger")) is None and app.outcome_of(cid("nobody")) is None
    history = [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert history.count("booking.reminded") == 2
    assert "booking.confirmed" not in history


def test_a_command_id_given_twice_in_one_group_has_one_effect(grouped: World) -> None:
    world = grouped
    world.send("venue", c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall")
    booking = world.book("book-1", "u1@example.com", "10:00", "11:00")
    again = c.SendReminder(command_id=cid("remind"), actor=SYSTEM, booking_id=UUID(booking))
    results = world.service.app.handle_all([again, again], world.clock.now)
    assert results == [{"booking_id": booking, "reminded": True}] * 2
    topics = [n.topic for n in world.service.app.recorder.select_notifications(start=1, limit=1000)]
    assert topics.count("booking.reminded") == 1
    assert topics.count("command.handled") == 3  # the venue, the booking, one reminder


@pytest.mark.parametrize("when", ["after our read-ahead", "before our save"])
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_group_that_loses_its_save_to_another_app_still_has_each_effect_once(
    store: str, when: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = "sqlite" if store == "sqlite" else request.getfixturevalue("pg_store")
    clock = FakeClock(START)
    ours, theirs = bootstrap(tmp_path / "ours", url, clock=clock), None
    try:
        world = World(ours, clock)
        world.send("venue", c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall")
        first = world.book("book-1", "u1@example.com", "10:00", "11:00")
        second = world.book("book-2", "u2@example.com", "11:00", "12:00")
        remind = [
            c.SendReminder(command_id=cid(f"remind-{b}"), actor=SYSTEM, booking_id=UUID(b))
            for b in (first, second)
        ]
        # Another BookIT on the same store (its own read models): a second worker.
        theirs = bootstrap(tmp_path / "ours" if store == "sqlite" else tmp_path / "theirs", url, clock=clock)
        confirm = c.ConfirmBooking(command_id=cid("confirm"), actor="u2@example.com", booking_id=UUID(second))

        def they_write() -> None:
            """They run our first command (the same tick, twice) and the owner of the second
            booking confirms it: after we read the bookings, or after we decided on them."""
            assert theirs is not None
            assert theirs.app.handle(remind[0], clock.now) == {"booking_id": first, "reminded": True}
            theirs.app.handle(confirm, clock.now)

        group = Group(ours.app)
        group.read_ahead(remind)
        if when == "after our read-ahead":
            they_write()
        for command in remind:
            group.run(command, clock.now)
        if when == "before our save":
            they_write()
        results = group.save()
        assert results[0] == {"booking_id": first, "reminded": True}
        assert results[1] == {"booking_id": second, "reminded": True}  # decided again, after the confirm
        app = ours.app
        for command, result in zip(remind, results, strict=True):
            assert app.outcome_of(command.command_id) == result
        topics: dict[str, list[str]] = {first: [], second: []}
        receipts = []
        for n in app.recorder.select_notifications(start=1, limit=1000):
            if str(n.originator_id) in topics:
                topics[str(n.originator_id)].append(n.topic)
            receipts.append(n.originator_id)
        assert topics[first] == ["booking.booked", "booking.reminded"]
        assert topics[second] == ["booking.booked", "booking.confirmed", "booking.reminded"]
        for command in [*remind, confirm]:
            assert receipts.count(CommandReceipt.id_for(command.command_id)) == 1
    finally:
        ours.close()
        if theirs is not None:
            theirs.close()
