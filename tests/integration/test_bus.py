"""Commands over the bus (CONTRACT.md "Bus messages"), against a real `bookit run` worker, on
RabbitMQ and on Redis: each test runs once per broker.

The worker is a child process on the embedded store in a temp home; the test reads the same
store and read models to see what really happened. Two corners are proved on RabbitMQ only: a
dead worker's unacknowledged message comes back at once there, but only after kombu's visibility
timeout (an hour by default) on Redis; and the unreachable-broker error needs no broker at all.
"""

# Fixtures come from servers.py by import (this folder has no conftest of its own), so a test's
# parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
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
    queued_messages,
    rabbitmq,
    redis_bus,
    store,
    topology,
    wait_until,
    worker,
    workers,
)
from sqlalchemy import select

from bookit import commands as c
from bookit.adapters.bus_topology import Topology
from bookit.aggregates.base import derived_id
from bookit.bootstrap import Service
from bookit.projections import queries
from bookit.projections.tables import positions, refusals

SLOT_TAKEN = (
    "slot is taken; join its waitlist to be offered it if it frees up "
    "(`bookit waitlist join`, POST /api/waitlist)"
)


@pytest.fixture(params=["rabbitmq", "redis_bus"], ids=["rabbitmq", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


def test_cli_through_the_bus_keeps_the_contracts_exit_codes(
    worker: Callable[[], WorkerProcess], bus_url: str, store: Service
) -> None:
    worker()
    slot = ["--venue", "main-hall", "--date", DAY, "--start", "14:00", "--end", "16:00"]

    code, done = bookit_json("--bus", bus_url, "book", "--user", ANN, *slot)
    assert code == 0 and done["status"] == "booked"

    code, refused = bookit_json("--bus", bus_url, "book", "--user", BOB, *slot)
    assert (code, refused["code"]) == (1, "slot_taken")

    code, bad = bookit_json("--bus", bus_url, "book", "--user", BOB, *slot[:1], "nowhere", *slot[2:])
    assert (code, bad["code"]) == (2, "unknown_venue")
    code, bad = bookit_json("--bus", bus_url, "confirm", str(derived_id("no such booking")), "--user", ANN)
    assert (code, bad["code"]) == (2, "unknown_booking")

    wait_until(lambda: queries.booking(store.engine, done["booking_id"]), "the booking in the read model")
    assert [b["user"] for b in queries.booking_list(store.engine)] == [ANN]


def test_a_plain_json_message_from_another_service_is_handled(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    worker()
    body = book_body(ANN, "10:00", "11:00")
    client.publish(body, reply=False)

    booking_id = str(derived_id("booking", body["command_id"]))
    row = wait_until(lambda: queries.booking(store.engine, booking_id), "the booking of the raw message")
    assert (row["user"], row["start"], row["status"]) == (ANN, "10:00", "booked")


MALFORMED: list[tuple[str, bytes | str | dict[str, Any]]] = [
    ("malformed_command", b"{not json"),
    ("malformed_command", b'{"type": "BookVenue", "purpose": "caf\xe9"}'),  # Latin-1, not UTF-8
    ("malformed_command", b"\xff\xfe not even text"),
    ("malformed_command", b"[1, 2, 3]"),
    ("unknown_command", {"type": "DropAllTables", "actor": ANN}),
    ("invalid_command", {"type": "BookVenue", "actor": ANN, "venue_id": "main-hall"}),
    ("invalid_command", {"type": "CancelBooking", "actor": "system", "booking_id": str(derived_id("x"))}),
]


def test_malformed_messages_are_refused_recorded_acknowledged_and_the_worker_goes_on(
    worker: Callable[[], WorkerProcess],
    client: RawClient,
    store: Service,
    bus_url: str,
    topology: Topology,
) -> None:
    running = worker()
    asked = [client.publish(body) for _, body in MALFORMED]
    client.publish(b"no reply_to, still recorded", reply=False)
    good = client.publish(book_body(ANN, "10:00", "11:00"))

    replies = client.wait([*asked, good])
    assert [(r["ok"], r["kind"], r["code"]) for r in replies[:-1]] == [
        (False, "bad_input", code) for code, _ in MALFORMED
    ]
    assert "UTF-8" in replies[1]["error"] and "JSON" in replies[0]["error"]
    assert replies[-1]["ok"] and replies[-1]["result"]["status"] == "booked"
    assert running.alive

    with store.engine.connect() as db:
        recorded = db.execute(select(refusals.c.body).order_by(refusals.c.id)).scalars().all()
    assert len(recorded) == len(MALFORMED) + 1
    assert recorded[-1] == "no reply_to, still recorded"

    running.stop()
    assert queued_messages(bus_url, topology.queue) == 0, "every message was acknowledged"


def test_a_burst_of_commands_is_answered_one_by_one_and_each_reply_finds_its_effects_in_place(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    """Queued before the worker starts, the commands reach it in batches: each is decided on its
    own (a refusal in the middle touches nobody else's booking), and a reply comes only once
    its booking is in the read models and its email in the outbox."""
    slots = [
        (f"{8 + n // 6:02d}:{n % 6 * 10:02d}", f"{8 + (n + 1) // 6:02d}:{(n + 1) % 6 * 10:02d}")
        for n in range(30)
    ]
    bodies = [book_body(f"user{n}@example.com", start, end) for n, (start, end) in enumerate(slots)]
    asked = [client.publish(body) for body in bodies[:1]]
    taken = client.publish(book_body(BOB, *slots[0]))  # the same slot again, in the same batch
    malformed = client.publish(b"{not json")
    asked += [client.publish(body) for body in bodies[1:]]

    worker()
    [first] = client.wait(asked[:1])
    # No waiting here: the reply itself says the read models and the outbox have caught up.
    assert queries.booking(store.engine, first["result"]["booking_id"]) is not None
    replies = client.wait(asked)
    refused, bad = client.wait([taken, malformed])

    assert [reply["ok"] for reply in replies] == [True] * len(bodies)
    assert (refused["ok"], refused["code"]) == (False, "slot_taken")
    assert (bad["ok"], bad["kind"]) == (False, "bad_input")
    booked = {row["booking_id"]: row["user"] for row in queries.booking_list(store.engine)}
    assert booked == {r["result"]["booking_id"]: b["actor"] for r, b in zip(replies, bodies, strict=True)}
    sent = queries.outbox(store.engine)
    assert sorted(row["recipient"] for row in sent) == sorted(body["actor"] for body in bodies)


def test_the_same_command_id_twice_has_one_effect_and_gets_the_first_reply_again(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    worker()
    body = book_body(ANN, "10:00", "11:00")
    first, second = client.wait([client.publish(body), client.publish(body)])
    assert first == second and first["ok"]
    assert booked_count(store, first["result"]["booking_id"]) == 1


def test_a_refused_command_sent_again_is_refused_again_even_when_it_could_now_succeed(
    worker: Callable[[], WorkerProcess], client: RawClient, store: Service
) -> None:
    worker()
    [taken] = client.wait([client.publish(book_body(ANN, "10:00", "11:00"))])
    bobs = book_body(BOB, "10:00", "11:00")
    [refused] = client.wait([client.publish(bobs)])
    cancel = c.CancelBooking(actor=ANN, booking_id=taken["result"]["booking_id"]).model_dump(mode="json")
    client.wait([client.publish(cancel)])

    [again] = client.wait([client.publish(bobs)])
    assert again == refused
    assert refused == {"ok": False, "kind": "refused", "code": "slot_taken", "error": SLOT_TAKEN}
    assert [b["user"] for b in queries.booking_list(store.engine) if b["status"] == "booked"] == []


def test_events_go_out_on_the_topic_exchange_after_they_are_stored(
    worker: Callable[[], WorkerProcess],
    client: RawClient,
    bus_url: str,
    topology: Topology,
) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def on_event(message: Message) -> None:
        seen.append((message.delivery_info["routing_key"], message.decode()))
        message.ack()

    with Connection(bus_url) as conn:
        listener = Queue(f"{topology.events}.listener", topology.event_exchange, routing_key="booking.*")
        with Consumer(conn.channel(), queues=[listener], on_message=on_event, accept=["json"]):
            worker()
            [booked] = client.wait([client.publish(book_body(ANN, "10:00", "11:00"))])
            booking_id = booked["result"]["booking_id"]
            confirm = c.ConfirmBooking(actor=ANN, booking_id=booking_id)
            client.wait([client.publish(confirm.model_dump(mode="json"))])
            wait_until(lambda: drain(conn, 0.2) or len(seen) >= 2, "two booking events")
        conn.default_channel.queue_delete(listener.name)

    assert [key for key, _ in seen] == ["booking.booked", "booking.confirmed"]
    body = seen[0][1]
    assert (body["aggregate_id"], body["version"], body["user"]) == (booking_id, 1, ANN)
    assert body["occurred_at"] == "2026-12-01T09:00:00Z" and body["event_id"]
    assert body["class_version"] == 1  # the shape its fields are in (docs/evolution.md)
    assert seen[1][1]["version"] == 2


# RabbitMQ only


def test_a_burst_of_events_goes_out_once_each_in_store_order(
    worker: Callable[[], WorkerProcess], client: RawClient, bus_url: str, topology: Topology
) -> None:
    """The relay publishes a page of events at a time (and, on RabbitMQ, waits for the broker's
    confirms once for the page): every event still goes out exactly once here, in order."""
    seen: list[str] = []

    def on_event(message: Message) -> None:
        seen.append(message.decode()["aggregate_id"])
        message.ack()

    bodies = [
        book_body(
            f"user{n}@example.com",
            f"{8 + n // 2:02d}:{n % 2 * 30:02d}",
            f"{8 + n // 2:02d}:{n % 2 * 30 + 29:02d}",
        )
        for n in range(20)
    ]
    with Connection(bus_url) as conn:
        listener = Queue(f"{topology.events}.burst", topology.event_exchange, routing_key="booking.booked")
        with Consumer(conn.channel(), queues=[listener], on_message=on_event, accept=["json"]):
            worker()
            replies = client.wait([client.publish(body) for body in bodies])
            wait_until(lambda: drain(conn, 0.2) or len(seen) >= len(bodies), "every booking's event")
            drain(conn, 1.0)  # time for a duplicate to show up
        conn.default_channel.queue_delete(listener.name)

    assert seen == [reply["result"]["booking_id"] for reply in replies]


def test_cli_with_an_unreachable_broker_says_so_and_exits_1() -> None:
    code, error = bookit_json(
        "--bus", "amqp://guest:secret@127.0.0.1:1//", "book", "--user", ANN, "--venue", "main-hall",
        "--date", DAY, "--start", "14:00", "--end", "16:00",
    )  # fmt: skip
    assert (code, error["code"]) == (1, "bus_unavailable")
    assert "127.0.0.1:1" in error["error"] and "secret" not in error["error"]


@pytest.mark.parametrize("bus_url", ["rabbitmq"], indirect=True)
def test_a_worker_killed_before_acking_leaves_the_command_to_be_redelivered_and_handled_once(
    worker: Callable[[], WorkerProcess],
    client: RawClient,
    store: Service,
    home: Path,
    bus_url: str,
    topology: Topology,
) -> None:
    first = worker()
    client.wait([client.publish(book_body(ANN, "08:00", "09:00"))])
    last = store.app.recorder.max_notification_id()
    wait_until(lambda: _position(store, "events_out") == last, "the worker to be idle")

    # Hold the read-model database: the worker stores the events, then blocks before its ack.
    blocker = sqlite3.connect(home / "readmodels.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    body = book_body(BOB, "10:00", "11:00")
    asked = client.publish(body)
    booking_id = str(derived_id("booking", body["command_id"]))
    wait_until(lambda: booked_count(store, booking_id), "the events to be stored")
    first.kill()
    blocker.rollback()
    blocker.close()
    assert queued_messages(bus_url, topology.queue) == 1, "the unacknowledged message went back"

    worker()
    [reply] = client.wait([asked])
    assert reply["ok"] and reply["result"]["booking_id"] == booking_id
    assert booked_count(store, booking_id) == 1
    wait_until(lambda: queries.booking(store.engine, booking_id), "the read model to show it")


def _position(service: Service, name: str) -> int | None:
    with service.engine.connect() as db:
        return db.execute(select(positions.c.position).where(positions.c.name == name)).scalar()
