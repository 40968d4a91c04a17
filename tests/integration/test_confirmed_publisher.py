"""Publishing a list with publisher confirms (adapters/confirmed.py), on a real RabbitMQ: the
relay's pages of events and the worker's replies go out this way."""

# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from kombu import Connection, Exchange, Queue
from servers import drain, rabbitmq, topology  # noqa: F401  (fixtures are used by name)

from bookit.adapters.confirmed import ConfirmedPublisher
from bookit.adapters.event_relay import broker_connection


@pytest.fixture
def listened(rabbitmq: str) -> Iterator[tuple[Connection, str, Queue]]:
    """A broker connection that waits for confirms, an exchange and a queue bound to it."""
    name = f"confirm-test-{uuid4().hex[:10]}"
    exchange = Exchange(name, type="topic", durable=False, auto_delete=True)
    queue = Queue(name, exchange, routing_key="#", durable=False, auto_delete=False)
    with broker_connection(rabbitmq) as broker:
        queue(broker.default_channel).declare()
        yield broker, name, queue
        broker.default_channel.queue_delete(name)


def _written(broker: Connection) -> list[int]:
    """Counts each write the connection's transport makes to its socket from now on."""
    transport = broker.connection.transport
    writes: list[int] = []
    sendall = transport._write

    def counted(data: Any) -> Any:
        writes.append(len(data))
        return sendall(data)

    transport._write = counted
    return writes


def _received(broker: Connection, queue: Queue, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    channel = broker.channel()
    while len(got) < count:
        message = channel.basic_get(queue.name, no_ack=True)
        if message is None:
            drain(broker, 0.05)
            continue
        got.append(json.loads(message.body))
    assert channel.basic_get(queue.name, no_ack=True) is None, "more messages arrived than were published"
    return got


def test_a_list_of_messages_arrives_once_each_in_order_from_one_socket_write(
    listened: tuple[Connection, str, Queue],
) -> None:
    broker, exchange, queue = listened
    publisher = ConfirmedPublisher(broker)
    messages = [
        (json.dumps({"n": n, "text": "é" * (n % 7)}), exchange, f"kind.{n % 3}", {"delivery_mode": 2})
        for n in range(1, 121)
    ]
    publisher.publish_all([(json.dumps({"n": 0}), exchange, "first", {})])  # opens its channel
    writes = _written(broker)

    publisher.publish_all(messages)

    assert len(writes) == 1, f"{len(writes)} socket writes for one list of 120 messages"
    assert [body["n"] for body in _received(broker, queue, 121)] == list(range(121))


def test_lists_one_after_another_on_the_same_channel_are_each_confirmed(
    listened: tuple[Connection, str, Queue],
) -> None:
    """The delivery tags counted on our side keep matching the broker's across lists, and a large
    message (more than one frame) goes out whole among small ones."""
    broker, exchange, queue = listened
    publisher = ConfirmedPublisher(broker)
    big = "x" * 300_000  # above the broker's frame size: written as several frames
    for start in (0, 10, 20):
        bodies = [{"n": n, "pad": big if n == start + 5 else ""} for n in range(start, start + 10)]
        publisher.publish_all([(json.dumps(b), exchange, "k", {}) for b in bodies])
        assert publisher._unconfirmed == set()

    got = _received(broker, queue, 30)
    assert [body["n"] for body in got] == list(range(30))
    assert [len(body["pad"]) for body in got if body["pad"]] == [300_000] * 3


def test_a_list_whose_publishing_fails_writes_nothing_of_it(
    listened: tuple[Connection, str, Queue],
) -> None:
    """A message that cannot be sent part-way fails the whole list before any of it reaches the
    broker (the message before it included), and the next list still goes out."""
    broker, exchange, queue = listened
    publisher = ConfirmedPublisher(broker)
    bad: list[Any] = [(json.dumps({"n": 0}), exchange, "k", {}), (object(), exchange, "k", {})]

    with pytest.raises(Exception):  # noqa: B017, PT011  (py-amqp's own error for a body it cannot send)
        publisher.publish_all(bad)

    publisher.publish_all([(json.dumps({"n": 1}), exchange, "k", {})])
    assert [body["n"] for body in _received(broker, queue, 1)] == [1]


def _reads(broker: Connection) -> list[int]:
    """Counts each read the connection's transport asks of its socket from now on."""
    transport = broker.connection.transport
    reads: list[int] = []
    recv = transport._quick_recv

    def counted(n: int) -> Any:
        reads.append(n)
        return recv(n)

    transport._quick_recv = counted
    return reads


def test_the_confirms_of_a_list_are_read_in_few_socket_reads(
    listened: tuple[Connection, str, Queue],
) -> None:
    """The broker confirms nearly every message with a frame of its own, and py-amqp alone reads
    a frame with three reads of the socket (its head, its payload, its end octet)."""
    broker, exchange, queue = listened
    publisher = ConfirmedPublisher(broker)
    publisher.publish_all([(json.dumps({"n": 0}), exchange, "first", {})])  # opens its channel
    frames: list[int] = []
    publisher._channel.events["basic_ack"].add(lambda tag, multiple: frames.append(tag))
    reads = _reads(broker)

    publisher.publish_all(
        [(json.dumps({"n": n}), exchange, "k", {"delivery_mode": 2}) for n in range(1, 201)]
    )

    read = len(reads)
    assert publisher._unconfirmed == set()
    assert frames, "no confirm frames counted"
    assert read <= len(frames) + 2, f"{read} socket reads for {len(frames)} confirm frames"
    assert [body["n"] for body in _received(broker, queue, 201)] == list(range(201))


def test_deliveries_read_with_the_confirms_still_reach_their_consumer_whole_and_in_order(
    listened: tuple[Connection, str, Queue], rabbitmq: str
) -> None:
    """A worker's connection both consumes and publishes: what the socket gave beyond the
    confirms (deliveries of several frames, the last perhaps cut off) is handed on as before."""
    broker, exchange, _ = listened
    inbox = Queue(f"{exchange}-inbox", durable=False, auto_delete=False)
    got: list[dict[str, Any]] = []
    consuming = broker.channel()
    inbox(consuming).declare()
    try:
        tag = consuming.basic_consume(
            inbox.name, callback=lambda m: got.append(json.loads(m.body)), no_ack=True
        )
        with Connection(rabbitmq) as sender:
            channel = sender.channel()
            for n in range(60):
                body = json.dumps({"n": n, "pad": "y" * 9_000}).encode()  # several reads' worth each
                channel.basic_publish(channel.prepare_message(body), exchange="", routing_key=inbox.name)
        publisher = ConfirmedPublisher(broker)
        for start in range(0, 200, 40):
            publisher.publish_all(
                [(json.dumps({"n": n}), exchange, "k", {}) for n in range(start, start + 40)]
            )
        for _ in range(200):
            if len(got) == 60:
                break
            drain(broker, 0.05)
        assert [body["n"] for body in got] == list(range(60))
        assert all(len(body["pad"]) == 9_000 for body in got)
        consuming.basic_cancel(tag)
    finally:
        consuming.queue_delete(inbox.name)
