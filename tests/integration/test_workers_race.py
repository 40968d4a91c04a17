"""Three workers, one RabbitMQ queue, one PostgreSQL database: clients race through the bus.

The script's outcome does not depend on who wins a race, only on how many can: distinct slots
per user, plus explicit races whose number of winners is known. Afterwards the DESIGN.md
invariants hold on the event store itself, every command got exactly one reply, `replay
--verify` passes, and one worker running the same script ends with the same bookings.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from servers import (
    RABBITMQ,
    RawClient,
    WorkerProcess,
    bookit_json,
    broker,
    fresh_database,
    need,
    own_bus_prefix,
    worker_args,
)
from sqlalchemy import select

from bookit import commands as c
from bookit.adapters.bus_topology import Topology
from bookit.aggregates.base import SYSTEM, derived_id
from bookit.bootstrap import Service, bootstrap
from bookit.projections import queries
from bookit.projections.rebuild import verify
from bookit.projections.tables import emails_sent

NOW = "2026-12-01T09:00:00+00:00"
DAY = "2026-12-03"
TICK_AT = "2026-12-02T20:00:00+00:00"  # 24 h or less before every slot of DAY: all reminders due
OWNERS = [f"owner{i}@example.com" for i in range(4)]
RACERS = [f"racer{i}@example.com" for i in range(5)]
OUTSIDERS = ["outsider0@example.com", "outsider1@example.com"]
OVERLAPPING = [("13:00", "15:00"), ("14:00", "16:00"), ("15:00", "17:00")]
COURT = {"venue_id": "court", "date": DAY, "start": "10:00", "end": "12:00"}


def command(n: int, cls: type[c.Command], **fields: Any) -> dict[str, Any]:
    """Command number n of the script: the same id in every run, so bookings get the same ids."""
    return cls(command_id=derived_id("race-script", n), **fields).model_dump(mode="json")


def booking_of(n: int) -> str:
    return str(derived_id("booking", derived_id("race-script", n)))


def book(n: int, user: str, venue: str, start: str, end: str) -> dict[str, Any]:
    return command(n, c.BookVenue, actor=user, venue_id=venue, date=DAY, start=start, end=end)


class Crowd:
    """One client per racer (own connection, own reply queue); a race starts them all at once."""

    def __init__(self, url: str, topology: Topology, size: int) -> None:
        self.clients = [RawClient(url, topology) for _ in range(size)]
        self.sent: list[tuple[RawClient, str]] = []

    def race(self, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
        start = threading.Barrier(len(bodies))
        replies: list[dict[str, Any]] = [{} for _ in bodies]

        def run(i: int) -> None:
            client = self.clients[i]
            start.wait()
            correlation_id = client.publish(bodies[i])
            self.sent.append((client, correlation_id))
            replies[i] = client.wait([correlation_id], timeout=90)[0]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(replies), "a client got no reply"
        return replies

    def replies_per_message(self) -> Counter[int]:
        for client in self.clients:
            client.drain(0.5)  # room for a duplicate reply to show up
        return Counter(len(client.replies[cid]) for client, cid in self.sent)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def run_script(crowd: Crowd) -> dict[str, Any]:
    own = crowd.race(*(book(i, u, "hall", f"{8 + i:02}:00", f"{9 + i:02}:00") for i, u in enumerate(OWNERS)))
    court = crowd.race(*(book(10 + i, u, "court", "10:00", "12:00") for i, u in enumerate(RACERS)))
    studio = crowd.race(*(book(20 + i, OWNERS[i], "studio", s, e) for i, (s, e) in enumerate(OVERLAPPING)))

    winner = next(i for i, reply in enumerate(court) if reply["ok"])
    queued = [u for i, u in enumerate(RACERS) if i != winner]
    joins = crowd.race(*(command(30 + i, c.JoinWaitlist, actor=u, **COURT) for i, u in enumerate(queued)))
    entries = {u: j["result"]["entry_id"] for u, j in zip(queued, joins, strict=True)}
    positions = {u: j["result"]["position"] for u, j in zip(queued, joins, strict=True)}

    # The winner cancels while outsiders try to book the freed slot around the queue.
    cancel = command(40, c.CancelBooking, actor=RACERS[winner], booking_id=booking_of(10 + winner))
    grabs = crowd.race(cancel, *(book(41 + k, u, "court", "10:00", "12:00") for k, u in enumerate(OUTSIDERS)))

    claims = {u: command(50 + i, c.ClaimOffer, actor=u, entry_id=entries[u]) for i, u in enumerate(queued)}
    claimed = dict(zip(queued, crowd.race(*claims.values()), strict=True))
    first_in_line = min(positions, key=positions.__getitem__)
    [claim_again, own_again] = crowd.race(claims[first_in_line], book(0, OWNERS[0], "hall", "08:00", "09:00"))

    double_cancel = crowd.race(
        *(command(60 + k, c.CancelBooking, actor=OWNERS[1], booking_id=booking_of(1)) for k in range(2))
    )
    ticks = crowd.race(*(command(70 + k, c.Tick, actor=SYSTEM, now=TICK_AT) for k in range(5)))
    return {
        "own": own,
        "court": court,
        "studio": studio,
        "entries": entries,
        "positions": positions,
        "grabs": grabs,
        "claimed": claimed,
        "first_in_line": first_in_line,
        "claim_again": claim_again,
        "own_again": own_again,
        "double_cancel": double_cancel,
        "ticks": ticks,
    }


@dataclass
class Run:
    service: Service
    store: str
    home: Path
    script: dict[str, Any]
    replies_per_message: Counter[int]
    workers_alive: list[bool]


def race_run(tmp_path_factory: pytest.TempPathFactory, worker_count: int) -> Iterator[Run]:
    need("127.0.0.1", 5432, "PostgreSQL")
    with own_bus_prefix() as topology:
        for url in broker(RABBITMQ, topology):
            for store in fresh_database():
                home = tmp_path_factory.mktemp(f"race{worker_count}")
                service = bootstrap(home, store, clock=lambda: datetime.fromisoformat(NOW))
                for venue in ("hall", "court", "studio"):
                    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name=venue, tz="Europe/London"))
                args = worker_args(home, store, url, NOW)
                started = [WorkerProcess(args, home / f"worker{i}.log").start() for i in range(worker_count)]
                crowd = Crowd(url, topology, size=len(RACERS))
                try:
                    script = run_script(crowd)
                    replies = crowd.replies_per_message()
                    yield Run(service, store, home, script, replies, [w.alive for w in started])
                finally:
                    # Workers first: a broker that dropped the crowd's connection makes
                    # crowd.close() raise, and must not leave worker processes running.
                    for worker in started:
                        worker.stop()
                    service.close()
                    crowd.close()


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield from race_run(tmp_path_factory, worker_count=3)


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory, three: Run) -> Iterator[Run]:
    yield from race_run(tmp_path_factory, worker_count=1)


def stored_events(service: Service) -> list[Any]:
    app = service.app
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10**6)]


def live_bookings(service: Service) -> dict[str, Any]:
    """Booking id -> its Booked event, for bookings the event store says are still live."""
    live: dict[str, Any] = {}
    for event in stored_events(service):
        if event.TOPIC == "booking.booked":
            live[str(event.originator_id)] = event
        elif event.TOPIC in ("booking.cancelled", "booking.auto_cancelled"):
            live.pop(str(event.originator_id), None)
    return live


def test_no_two_live_bookings_of_a_venue_overlap_in_the_event_store(three: Run) -> None:
    by_venue: dict[str, list[Any]] = defaultdict(list)
    for booked in live_bookings(three.service).values():
        by_venue[booked.venue_id].append(booked)
    for venue, booked in by_venue.items():
        ordered = sorted(booked, key=lambda b: b.starts_at)
        for before, after in zip(ordered, ordered[1:], strict=False):
            assert before.ends_at <= after.starts_at, (
                f"{venue}: {before.start}-{before.end} overlaps {after.start}"
            )
    studio = three.script["studio"]
    assert sum(r["ok"] for r in studio) in (1, 2)


def test_exactly_one_racer_books_a_contested_slot_and_outsiders_cannot_book_around_the_queue(
    three: Run,
) -> None:
    script = three.script
    assert all(r["ok"] for r in script["own"]), "distinct slots never conflict"
    court = script["court"]
    assert sum(r["ok"] for r in court) == 1
    assert {r["code"] for r in court if not r["ok"]} <= {"slot_taken", "contention"}
    cancel, *outsiders = script["grabs"]
    assert cancel["ok"]
    assert not any(r["ok"] for r in outsiders)
    assert {r["code"] for r in outsiders} <= {"slot_taken", "slot_held"}


def test_the_freed_slot_is_offered_first_in_line_and_only_they_can_claim_it(three: Run) -> None:
    script = three.script
    assert sorted(script["positions"].values()) == [1, 2, 3, 4]
    first = script["first_in_line"]
    winners = [user for user, reply in script["claimed"].items() if reply["ok"]]
    assert winners == [first]
    assert script["claim_again"] == script["claimed"][first], "a repeated claim gets the first outcome"
    offered = [e.entry_id for e in stored_events(three.service) if e.TOPIC == "waitlist.notified"]
    assert offered == [script["entries"][first]], "one offer, to the head of the queue, once"


def test_a_duplicate_or_a_second_cancel_has_no_second_effect(three: Run) -> None:
    script = three.script
    assert script["own_again"] == script["own"][0]
    assert sorted(r["ok"] for r in script["double_cancel"]) == [False, True]
    assert [r["code"] for r in script["double_cancel"] if not r["ok"]] == ["already_cancelled"]


def test_one_reminder_per_booking_however_many_ticks_run_at_once(three: Run) -> None:
    assert all(t["ok"] for t in three.script["ticks"])
    events = stored_events(three.service)
    reminded = Counter(str(e.originator_id) for e in events if e.TOPIC == "booking.reminded")
    live = live_bookings(three.service)
    assert reminded == Counter(dict.fromkeys(live, 1))
    with three.service.engine.connect() as db:
        mailed = db.execute(
            select(emails_sent.c.subject_id).where(emails_sent.c.kind == "reminder")
        ).scalars()
        assert Counter(mailed) == Counter(dict.fromkeys(live, 1))


def test_all_three_workers_keep_running_through_the_race(three: Run) -> None:
    assert three.workers_alive == [True, True, True]


def test_every_command_got_exactly_one_reply(three: Run) -> None:
    assert set(three.replies_per_message) == {1}


def test_replay_verify_passes_after_the_race(three: Run) -> None:
    code, result = bookit_json("--home", str(three.home), "--store", three.store, "replay", "--verify")
    assert (code, result["verified"]) == (0, True), result


def test_one_worker_ends_with_the_same_bookings_as_three(three: Run, one: Run) -> None:
    assert verify(one.service.app, one.service.engine) == []
    assert final_bookings(one) == final_bookings(three)
    assert final_bookings(three)["contested"] == [("confirmed", True, True), ("cancelled", False, False)]


def final_bookings(run: Run) -> dict[str, Any]:
    """Rows whose content the script fixes; where a race decides who, only what and how many."""
    rows = queries.booking_list(run.service.engine)
    fixed = sorted(
        tuple(
            r[k]
            for k in ("booking_id", "venue_id", "user", "start", "end", "status", "confirmed", "reminded")
        )
        for r in rows
        if r["venue_id"] == "hall"
    )
    contested = sorted(
        ((r["status"], r["confirmed"], r["reminded"]) for r in rows if r["venue_id"] == "court"), reverse=True
    )
    return {"fixed": fixed, "contested": contested}
