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
