"""`bookit replay` rebuilds exactly the rows the live projection wrote, event by event.

A simulated fortnight with check-in on (bookings, confirmations, reminders, auto-cancellations,
queues, offers, claims, no-shows and strikes, rules set, an admin granted) is projected live,
one command at a time, as the service runs. Every read-model table is then dumped, rebuilt
from the store and dumped again: the rebuild's shortcuts (large batches, due timers it knows
it wrote) must give the same rows, byte for byte. So must a rebuild in tiny batches, where
rows change across batch boundaries, a rebuild that crashed half-way and was run again, and
one that met events stored while it ran.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, delete, inspect, update

from bookit import commands as c
from bookit.demo.simulation import ADMIN, Simulation
from bookit.projections import rebuild as rebuilding
from bookit.projections.batch import Batch
from bookit.projections.database import make_engine
from bookit.projections.following import Applied
from bookit.projections.projector import Projector, gather, handlers_by_type
from bookit.projections.rebuild import dump, rebuild
from bookit.projections.rebuild_process import ChildPages, childs, page_range, pages
from bookit.projections.tables import PROJECTED, bookings, positions

SLOTS = (("09:00", "11:00"), ("10:00", "12:00"), ("14:00", "16:00"))


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulation, dict[str, Any]]]:
    sim = Simulation(
        tmp_path_factory.mktemp("replay") / "home",
        venues=2,
        days=14,
        seed=15,
        slots=SLOTS,
        users=12,
        attempts_per_slot=3,
        check_in_minutes=15,
        no_show_rate=0.25,
    )
    sim.run()
    sim.service.bus.settle(sim.clock())
    yield sim, dump(sim.service.engine)
    sim.close()


def _emptied(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(PROJECTED):
            conn.execute(delete(table))
        conn.execute(update(positions).where(positions.c.name == Projector.name).values(position=0))


def test_the_fortnight_has_every_kind_of_row_and_timer(fortnight: tuple[Simulation, dict[str, Any]]) -> None:
    """Otherwise the comparisons below would prove less than they say."""
    sim, live = fortnight
    topics = Counter(n.topic for n in sim.service.app.recorder.select_notifications(start=1, limit=10**6))
    for topic in (
        "booking.confirmed",
        "booking.reminded",
        "booking.auto_cancelled",
        "booking.cancelled",
        "booking.checked_in",
        "booking.no_show",
        "waitlist.notified",
        "waitlist.claimed",
        "waitlist.expired",
        "strikes.recorded",
        "venue.rules_set",
        "admins.granted",
    ):
        assert topics[topic] > 0, (topic, sorted(topics))
    for table in ("bookings", "check_ins", "strikes", "waitlist_entries", "due_timers", "admins"):
        assert live[table], table


def test_replay_rebuilds_the_live_rows_exactly(fortnight: tuple[Simulation, dict[str, Any]]) -> None:
    sim, live = fortnight
    applied = rebuild(sim.service.app, sim.service.engine)
    assert applied == sim.service.app.recorder.max_notification_id()
    assert dump(sim.service.engine) == live


def test_a_rebuild_in_tiny_batches_gives_the_same_rows(fortnight: tuple[Simulation, dict[str, Any]]) -> None:
    """Rows inserted in one batch and changed in a later one; timers dropped batches after."""
    sim, live = fortnight
    _emptied(sim.service.engine)
    Projector(sim.service.app, sim.service.engine, batch_size=7, from_empty=True).catch_up()
    assert dump(sim.service.engine) == live


def crash_half_way(sim: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild interrupted after its first batch of 500 events."""
    monkeypatch.setattr(rebuilding, "REBUILD_BATCH", 500)

    def crash(_count: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild(sim.service.app, sim.service.engine, crash)


def test_a_replay_that_crashed_half_way_ends_right_when_run_again(
    fortnight: tuple[Simulation, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, live = fortnight
    crash_half_way(sim, monkeypatch)
    assert dump(sim.service.engine) != live  # half the audit trail, some bookings
    monkeypatch.undo()
    rebuild(sim.service.app, sim.service.engine)
    assert dump(sim.service.engine) == live


def test_the_live_projection_carries_on_from_a_crashed_replay(
    fortnight: tuple[Simulation, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command after a crashed replay (not run again) catches the projection up from where the
    replay stopped: the rows end the same."""
    sim, live = fortnight
    crash_half_way(sim, monkeypatch)
    Projector(sim.service.app, sim.service.engine).catch_up()
    assert dump(sim.service.engine) == live


def test_verify_finds_a_changed_row(fortnight: tuple[Simulation, dict[str, Any]]) -> None:
    sim, live = fortnight
    engine = sim.service.engine
    assert rebuilding.verify(sim.service.app, engine) == []
    booking_id = live["bookings"][0][0]
    with engine.begin() as conn:
        conn.execute(update(bookings).where(bookings.c.booking_id == booking_id).values(note="edited"))
    differences = rebuilding.verify(sim.service.app, engine)
    assert [(d.table, d.live_only, d.rebuilt_only) for d in differences] == [("bookings", 1, 1)]
    rebuild(sim.service.app, engine)
    assert dump(engine) == live


def test_the_child_process_gathers_its_pages_as_this_one_would(
    fortnight: tuple[Simulation, dict[str, Any]],
) -> None:
    """Most of a replay's pages are gathered by a forked child (rebuild_process.py): each of them is
    the batch this process gathers from the same events, timers' deletes aside (the child does
    not know which timers are in the table, so it sends every one). Waitlist joins name slots
    opened on earlier pages: the child finds those in the store."""
    sim, _ = fortnight
    app = sim.service.app
    assert threading.active_count() == 1  # else no child is forked, and this proves nothing
    end, size = app.recorder.max_notification_id(), 150
    other = ChildPages(app, end, size)
    joins_of_older_slots = 0
    try:
        for k in filter(childs, range(pages(size, end))):
            assert other.has(k)
            got = other.take(k)
            assert got is not None, k
            ids, pending = got
            first, last = page_range(k, size, end)
            page = app.recorder.select_notifications(start=first, stop=last, limit=size)
            assert ids == [n.id for n in page]
            with sim.service.engine.connect() as conn:
                here = Batch(conn)
                gather(here, handlers_by_type(), ((n.id, app.mapper.to_domain_event(n)) for n in page))
            assert pending == here.pending()
            joined = [n for n in page if n.topic.endswith("waitlist.joined")]
            joins_of_older_slots += sum(
                n.originator_id not in {m.originator_id for m in page[: page.index(n)]} for n in joined
            )
        assert joins_of_older_slots > 0
        assert other.take(pages(size, end) + 1) is None  # past the end: nothing made up
    finally:
        other.close()


def test_a_replay_killed_before_it_rebuilt_its_indexes_leaves_them_to_the_next_process(
    fortnight: tuple[Simulation, dict[str, Any]],
) -> None:
    engine = fortnight[0].service.engine
    with engine.begin() as conn:
        for table in PROJECTED:
            for index in table.indexes:
                index.drop(conn)
    make_engine(str(engine.url)).dispose()
    names = {index["name"] for table in PROJECTED for index in inspect(engine).get_indexes(table.name)}
    assert names == {index.name for table in PROJECTED for index in table.indexes}


def test_a_replay_that_another_worker_overtakes_stands_down_and_the_rows_end_right(
    fortnight: tuple[Simulation, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker's projector applies the page after the replay's first: the replay stops
    there, since its knowledge of the due timers would be wrong from then on (carrying on, it
    would skip deletes of timers the other worker added), and the live projector finishes."""
    sim, live = fortnight
    monkeypatch.setattr(rebuilding, "REBUILD_BATCH", 500)
    other = Projector(sim.service.app, sim.service.engine, batch_size=500)
    overtaken: list[int] = []

    def one_page(conn: Connection, page: Sequence[Notification]) -> Applied:
        other.apply_all(conn, ((n.id, sim.service.app.mapper.to_domain_event(n)) for n in page))
        return Applied(len(page), stop=True)

    def overtake(_count: int) -> None:
        if not overtaken:
            overtaken.append(other.follow(one_page))

    applied = rebuild(sim.service.app, sim.service.engine, overtake)
    assert overtaken == [500] and applied == 500
    Projector(sim.service.app, sim.service.engine).catch_up()
    assert dump(sim.service.engine) == live


def _processes_with(marker: str) -> int:
    found = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found += marker.encode() in cmdline.read_bytes()
        except OSError:
            continue  # gone meanwhile
    return found


def test_a_replay_killed_half_way_leaves_no_child_process_behind(
    fortnight: tuple[Simulation, dict[str, Any]],
) -> None:
    """`kill -9` of a replay: its child notices it has no parent and exits, rather than wait
    for ever to hand on a page."""
    sim, live = fortnight
    marker = f"replay-{uuid4()}"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_replay_same_rows import _processes_with
from bookit.bootstrap import bootstrap
from bookit.projections import rebuild
rebuild.REBUILD_BATCH = 200
service = bootstrap({str(sim.service.home)!r})

def die(_count):
    print(_processes_with({marker!r}), flush=True)  # this one and its child
    os.kill(os.getpid(), signal.SIGKILL)

rebuild.rebuild(service.app, service.engine, die)
"""
    done = subprocess.run([sys.executable, "-c", script, marker], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["2"]
    deadline = time.monotonic() + 15
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == 0
    rebuild(sim.service.app, sim.service.engine)  # the fortnight's rows back, for what follows
    assert dump(sim.service.engine) == live


def test_events_stored_while_a_replay_runs_are_replayed_too(
    fortnight: tuple[Simulation, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the child saw the new events or not, the rows end as a live projection's.
    (Last in this module: it adds to the fortnight's store.)"""
    sim, _ = fortnight
    monkeypatch.setattr(rebuilding, "REBUILD_BATCH", 500)
    added: list[Any] = []

    def book_more(_count: int) -> None:
        if not added:  # stored, not yet projected: the replay's later pages meet it
            venue = c.build(c.RegisterVenue, command_id=uuid4(), actor=ADMIN, name="Late Hall", tz="UTC")
            added.append(sim.service.bus.run(venue, sim.clock()))

    rebuild(sim.service.app, sim.service.engine, book_more)
    assert added
    Projector(sim.service.app, sim.service.engine).catch_up()
    assert rebuilding.verify(sim.service.app, sim.service.engine) == []
