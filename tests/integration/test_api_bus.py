"""The HTTP API in bus mode on PostgreSQL + RabbitMQ: requests publish their command and wait
for a worker's reply, as the CLI does with --bus. Two workers consume the same queue (threads
here, so the test can move their clock; each has its own store connections, as a process
would), the API serves from the read models they keep.

The seed's "Test 3" end to end, a double click on claim racing through two workers, and a
refused first attempt replayed by the worker that remembers it.
"""

# Fixtures come from servers.py by import (this folder has no conftest of its own), so a test's
# parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from servers import pg_store, rabbitmq, topology  # noqa: F401  (fixtures are used by name)

from api_client import People, api_server
from api_story import ADMIN, SLOT, A, B, waitlist_story
from bookit import commands as c
from bookit.adapters.bus_client import send_and_wait
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.entrypoints.bus_worker import run_worker
from bookit.entrypoints.service import Settings
from bookit.projections import queries
from conftest import FakeClock

T0 = datetime.fromisoformat("2026-12-01T09:00:00+00:00")
pytestmark = pytest.mark.servers


@dataclass
class BusWorld:
    people: People
    workers: list[Service]
    bus_url: str
    clock: FakeClock

    def at(self, instant: str) -> None:
        self.clock.set(datetime.fromisoformat(instant))

    def tick(self, instant: str) -> None:
        self.at(instant)
        send_and_wait(self.bus_url, c.Tick(now=datetime.fromisoformat(instant)))


@pytest.fixture
def world(pg_store: str, rabbitmq: str, topology: object, tmp_path: Path) -> Iterator[BusWorld]:
    clock = FakeClock(T0)
    workers = [bootstrap(tmp_path / f"home{n}", store=pg_store, clock=clock) for n in range(2)]
    api_side = workers[0]
    api_side.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    stop = threading.Event()
    settings = Settings(every=3600, bus_url=rabbitmq)
    threads = [
        threading.Thread(target=run_worker, args=(worker, settings, stop), daemon=True) for worker in workers
    ]
    for thread in threads:
        thread.start()
    try:
        with api_server(api_side, bus_url=rabbitmq) as base:
            people = People(base)
            yield BusWorld(people, workers, rabbitmq, clock)
            people.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for worker in workers:
            worker.close()


def test_the_seeds_waitlist_story_over_rabbitmq_and_postgres(world: BusWorld) -> None:
    waitlist_story(world.people, world.tick, world.at)


def test_a_double_click_on_claim_through_two_workers_has_one_winner(world: BusWorld) -> None:
    world.people(ADMIN).post("/api/venues", json={"name": "Main Hall", "tz": "Europe/London"})
    booking = world.people(A).post("/api/bookings", json=SLOT).json()["booking_id"]
    entry = world.people(B).post("/api/waitlist", json=SLOT).json()["entry_id"]
    assert world.people(A).post(f"/api/bookings/{booking}/cancel").status_code == 200
    start = threading.Barrier(4)
    answers: list[httpx.Response] = []

    def click() -> None:
        with httpx.Client(base_url=world.people.base, headers=world.people(B).headers, timeout=60) as client:
            start.wait()
            answers.append(client.post(f"/api/waitlist/{entry}/claim"))

    clicks = [threading.Thread(target=click) for _ in range(4)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(timeout=90)
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"no_offer"}
    engine = world.workers[0].engine
    assert [b["user"] for b in queries.booking_list(engine) if b["waitlist_entry_id"] == entry] == [B]


def test_a_refused_first_attempt_is_replayed_over_the_bus(world: BusWorld) -> None:
    world.people(ADMIN).post("/api/venues", json={"name": "Main Hall", "tz": "Europe/London"})
    booking = world.people(A).post("/api/bookings", json=SLOT).json()["booking_id"]
    key = {"Idempotency-Key": "bob-once"}
    first = world.people(B).post("/api/bookings", json=SLOT, headers=key)
    assert (first.status_code, first.json()["code"]) == (409, "slot_taken")
    assert world.people(A).post(f"/api/bookings/{booking}/cancel").status_code == 200
    again = world.people(B).post("/api/bookings", json=SLOT, headers=key)
    assert (again.status_code, again.json()) == (409, first.json())
    engine = world.workers[0].engine
    assert queries.booking_list(engine, user=B) == []
    kept = world.people(A).post("/api/bookings", json=SLOT, headers={"Idempotency-Key": "ann-again"})
    repeat = world.people(A).post("/api/bookings", json=SLOT, headers={"Idempotency-Key": "ann-again"})
    assert (kept.status_code, repeat.status_code, kept.json()) == (201, 201, repeat.json())


def test_no_worker_is_503_no_reply_and_no_broker_is_503_bus_unavailable(
    service: Service, rabbitmq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKIT_BUS_TIMEOUT", "1")
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    for url, code in [(rabbitmq, "no_reply"), ("amqp://guest:guest@127.0.0.1:1//", "bus_unavailable")]:
        with api_server(service, bus_url=url) as base:
            answer = People(base)(A).post("/api/bookings", json=SLOT, headers={"Idempotency-Key": code})
        assert (answer.status_code, answer.json()["code"]) == (503, code), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
