"""A batch's refusals are looked up once for the whole batch, and still answer every message as
before: a redelivered refused command hears its first refusal and does not run again, and a
command_id given twice in one batch is refused once and answered the same both times.

Real parts: the embedded store, and messages delivered by kombu's in-process transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kombu import Connection, Message, Queue
from sqlalchemy import func, select

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.entrypoints import batching
from bookit.entrypoints.bus_worker import CommandWorker
from bookit.projections.tables import refusals

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    service = bootstrap(tmp_path / "home", clock=lambda: NOW)
    yield service
    service.close()


def delivered(bodies: list[dict[str, Any]]) -> list[Message]:
    """The bodies as a broker delivers them: real kombu messages off a real (in-process) queue."""
    queue = Queue(f"batch-{uuid4().hex}")
    conn = Connection("memory://")
    with conn.Producer() as producer:
        for body in bodies:
            producer.publish(json.dumps(body), routing_key=queue.name, declare=[queue])
    got: list[Message] = []
    with conn.Consumer(queue, callbacks=[lambda _body, message: got.append(message)]):
        while len(got) < len(bodies):
            conn.drain_events(timeout=2)
    return got


def recorded(service: Service) -> int:
    with service.engine.connect() as db:
        return int(db.execute(select(func.count()).select_from(refusals)).scalar_one())


def register(name: str) -> dict[str, Any]:
    return {
        "type": "RegisterVenue",
        "command_id": str(uuid4()),
        "actor": "ann@example.org",
        "name": name,
        "tz": "UTC",
    }


def test_a_redelivered_refusal_and_a_repeated_id_in_one_batch_are_answered_as_first_refused(
    service: Service,
) -> None:
    worker = CommandWorker(service, lambda: NOW)
    service.bus.handle(c.GrantAdmin(actor=SYSTEM, email="ann@example.org"))  # the operator
    first = register("Hall")
    worker.outcome(json.dumps(first))  # the venue exists now
    taken = register("Hall")  # refused: the venue exists
    before = worker.outcome(json.dumps(taken))
    assert before["code"] == "venue_exists"

    twice = register("Hall")
    fresh = register("Annex")
    replies = batching.run_batch(worker, delivered([taken, twice, fresh, twice]))

    answers = [reply for _message, reply in replies]
    assert answers[0] == before  # the first refusal, not a second run
    assert answers[1]["code"] == "venue_exists" and answers[3] == answers[1]
    assert answers[2] == {"ok": True, "result": {"venue_id": "annex"}}
    assert recorded(service) == 2  # `taken` once, `twice` once


def booking(venue_id: str, start: str) -> dict[str, Any]:
    return {
        "type": "BookVenue",
        "command_id": str(uuid4()),
        "actor": "bob@example.org",
        "venue_id": venue_id,
        "date": "2026-12-05",
        "start": start,
        "end": f"{int(start[:2]) + 1:02d}:00",
    }


def stored_events(service: Service) -> int:
    return service.app.recorder.max_notification_id() or 0


def test_a_batch_asks_for_its_receipts_once_and_a_repeated_command_is_answered_from_its_receipt(
    service: Service,
) -> None:
    """The batch reads which of its commands have receipts in one query, and the commands that
    had none skip asking again; a command handled before (a redelivery), or earlier in the same
    batch, still hears its first outcome and changes nothing."""
    worker = CommandWorker(service, lambda: NOW)
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="UTC"))
    done = booking("hall", "10:00")
    first = worker.outcome(json.dumps(done))
    assert first["ok"]
    again, fresh = booking("hall", "12:00"), booking("hall", "14:00")
    assert service.app.unhandled([done["command_id"], again["command_id"]]) == {again["command_id"]}

    before = stored_events(service)
    replies = [reply for _m, reply in batching.run_batch(worker, delivered([done, again, fresh, again]))]

    assert replies[0] == first
    assert replies[1]["ok"] and replies[3] == replies[1]
    assert replies[2]["ok"] and replies[2]["result"]["booking_id"] != replies[1]["result"]["booking_id"]
    # Two bookings, each a booking, its venue-day's change and a receipt: nothing for the repeats.
    assert stored_events(service) - before == 6


def test_a_command_handled_elsewhere_after_the_batch_looked_hears_that_outcome_not_a_refusal(
    service: Service,
) -> None:
    """Between the batch's look at its receipts and a command's turn, another worker may handle
    the same command_id (a client that sent it twice). Run as unseen, the command then finds its
    own booking in the way: the refusal is checked against the receipt, and the first outcome
    is the answer. A save that races the other worker's loses on the receipt and rereads it."""
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="UTC"))
    command = c.parse_command(booking("hall", "10:00"))
    first = service.app.handle(command, NOW)  # the other worker
    before = stored_events(service)

    assert service.app.handle(command, NOW, unseen=True) == first
    assert stored_events(service) == before

    confirm = c.ConfirmBooking(actor="bob@example.org", booking_id=first["booking_id"])
    confirmed = service.app.handle(confirm, NOW)
    assert service.app.handle(confirm, NOW, unseen=True) == confirmed
    assert stored_events(service) == before + 2  # the confirmation and its receipt, once
