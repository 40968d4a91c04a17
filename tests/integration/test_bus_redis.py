"""The same bus, on Redis: commands in, replies back, refusals recorded, events out.

Redis has no publisher confirms, and a dead worker's unacknowledged message comes back only
after kombu's visibility timeout (an hour by default), so this covers the basic contract; the
redelivery corner cases are proved on RabbitMQ.
"""

# Fixtures come from servers.py by import (this folder has no conftest of its own), so a test's
# parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kombu import Connection, Consumer, Message, Queue
from servers import (  # noqa: F401  (fixtures are used by name)
    ANN,
    BOB,
    DAY,
    RawClient,
    WorkerProcess,
    book_body,
    booked_count,
    bookit_json,
    client,
    drain,
    home,
    redis_bus,
    store,
    topology,
    wait_until,
    worker,
    workers,
)
from sqlalchemy import select

from bookit.adapters.bus_topology import Topology
from bookit.aggregates.base import derived_id
from bookit.bootstrap import Service
from bookit.projections import queries
from bookit.projections.tables import refusals


@pytest.fixture
def bus_url(redis_bus: str) -> str:
    return redis_bus


def test_cli_through_redis_keeps_the_contracts_exit_codes(
    worker: Callable[[], WorkerProcess], redis_bus: str, store: Service
) -> None:
    worker()
    slot = ["--venue", "main-hall", "--date", DAY, "--start", "14:00", "--end", "16:00"]

    code, done = bookit_json("--bus", redis_bus, "book", "--user", ANN, *slot)
    assert code == 0 and done["status"] == "booked"
    code, refused = bookit_json("--bus", redis_bus, "book", "--user", BOB, *slot)
    assert (code, refused["code"]) == (1, "slot_taken")
    code, bad = bookit_json("--bus", redis_bus, "confirm", str(derived_id("no such booking")), "--user", ANN)
    assert (code, bad["code"]) == (2, "unknown_booking")


def test_redis_messages_from_another_service_duplicates_and_garbage(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    worker()
    silent = book_body(ANN, "08:00", "09:00")
    client.publish(silent, reply=False)
    twice = book_body(BOB, "10:00", "11:00")
    garbage = client.publish(b"\xff\xfe not even text")
    first, second, bad = client.wait([client.publish(twice), client.publish(twice), garbage])

    assert first == second and first["ok"]
    assert booked_count(store, first["result"]["booking_id"]) == 1
    assert (bad["ok"], bad["kind"], bad["code"]) == (False, "bad_input", "malformed_command")
    silent_id = str(derived_id("booking", silent["command_id"]))
    wait_until(lambda: queries.booking(store.engine, silent_id), "the reply-less command to take effect")
    with store.engine.connect() as db:
        assert db.execute(select(refusals.c.code)).scalars().all() == ["bad_input:malformed_command"]


def test_events_go_out_on_redis_with_their_topic_as_routing_key(
    worker: Callable[[], WorkerProcess], client: RawClient, redis_bus: str, topology: Topology
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def on_event(message: Message) -> None:
        seen.append((message.delivery_info["routing_key"], message.decode()))
        message.ack()

    with Connection(redis_bus) as conn:
        listener = Queue(f"{topology.events}.listener", topology.event_exchange, routing_key="booking.*")
        with Consumer(conn.channel(), queues=[listener], on_message=on_event, accept=["json"]):
            worker()
            [booked] = client.wait([client.publish(book_body(ANN, "10:00", "11:00"))])
            wait_until(lambda: drain(conn, 0.2) or seen, "the booking.booked event")
        conn.default_channel.queue_delete(listener.name)

    [(key, body)] = seen
    assert key == "booking.booked"
    assert (body["aggregate_id"], body["version"], body["occurred_at"]) == (
        booked["result"]["booking_id"],
        1,
        "2026-12-01T09:00:00Z",
    )
