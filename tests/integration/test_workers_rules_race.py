"""Venue rules raced through the bus (DESIGN rule 13): three `bookit run` workers on one RabbitMQ
queue and one PostgreSQL database, clients released at once. Buffers (the venue-day) and quotas
(the quota counter) let exactly the allowed number win, whichever worker handles whom."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from servers import RABBITMQ, WorkerProcess, broker, fresh_database, need, own_bus_prefix, worker_args
from test_workers_race import Crowd

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import bootstrap
from bookit.testing.invariants import check_invariants

NOW = "2026-12-01T09:00:00+00:00"
RACERS = [f"racer{i}@example.com" for i in range(5)]
ANN = "ann@example.com"


def body(cls: type[c.Command], **fields: Any) -> dict[str, Any]:
    return cls(**fields).model_dump(mode="json")


@pytest.fixture(scope="module")
def raced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    need("127.0.0.1", 5432, "PostgreSQL")
    with own_bus_prefix() as topology:
        for url in broker(RABBITMQ, topology):
            for store in fresh_database():
                home = tmp_path_factory.mktemp("rules-race")
                service = bootstrap(home, store, clock=lambda: datetime.fromisoformat(NOW))
                service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="hall", tz="Europe/London"))
                service.bus.handle(
                    c.SetVenueRules(
                        actor=SYSTEM, venue_id="hall", buffer_minutes=60, quota_bookings=["2/week"]
                    )
                )
                args = worker_args(home, store, url, NOW)
                workers = [WorkerProcess(args, home / f"worker{i}.log").start() for i in range(3)]
                crowd = Crowd(url, topology, size=len(RACERS))
                try:
                    # Five ten-minute slots, none overlapping, all within an hour of each other.
                    starts = ["10:00", "10:12", "10:24", "10:36", "10:48"]
                    buffer = crowd.race(
                        *(
                            body(
                                c.BookVenue,
                                actor=u,
                                venue_id="hall",
                                date="2026-12-03",
                                start=s,
                                end=f"{s[:3]}{int(s[3:]) + 10}",
                            )
                            for u, s in zip(RACERS, starts, strict=True)
                        )
                    )
                    days = ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11"]
                    quota = crowd.race(
                        *(
                            body(c.BookVenue, actor=ANN, venue_id="hall", date=d, start="18:00", end="19:00")
                            for d in days
                        )
                    )
                    yield {
                        "buffer": buffer,
                        "quota": quota,
                        "service": service,
                        "alive": [w.alive for w in workers],
                    }
                finally:
                    # Workers first: a broker that dropped the crowd's connection makes
                    # crowd.close() raise, and must not leave worker processes running.
                    for worker in workers:
                        worker.stop()
                    service.close()
                    crowd.close()


def outcome(replies: list[dict[str, Any]]) -> tuple[int, Counter[str]]:
    return sum(r["ok"] for r in replies), Counter(r["code"] for r in replies if not r["ok"])


def test_rule_13_racing_workers_take_one_booking_inside_a_buffer(raced: dict[str, Any]) -> None:
    wins, codes = outcome(raced["buffer"])
    assert wins == 1 and set(codes) <= {"buffer_conflict", "contention"}, raced["buffer"]


def test_rule_13_racing_workers_stay_within_one_users_quota(raced: dict[str, Any]) -> None:
    wins, codes = outcome(raced["quota"])
    assert wins == 2 and set(codes) <= {"quota_exceeded", "contention"}, raced["quota"]


def test_rule_13_the_invariants_hold_and_the_workers_run_on(raced: dict[str, Any]) -> None:
    assert all(raced["alive"])
    service = raced["service"]
    service.projector.catch_up()
    assert check_invariants(service) == []
