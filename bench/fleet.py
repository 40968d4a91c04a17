"""`bookit run --bus` workers for a scenario: real processes on the scenario's store and a real
RabbitMQ, with a prefix of their own on the broker (removed afterwards).

`send` publishes a list of command bodies with `reply_to` and waits for every reply: a reply
comes only after its command's events are stored, the read models written and the emails
delivered, so the time to the last reply is the time all of it took.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from kombu import Connection, Consumer, Producer, Queue

from bookit.adapters.bus_topology import COMMANDS_KEY, Topology

AMQP = os.environ.get("BOOKIT_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
BOOKIT = str(Path(sys.executable).with_name("bookit"))
START_TIMEOUT = 120.0


class Fleet:
    def __init__(self, conn: Connection, topology: Topology) -> None:
        self.conn = conn
        self.topology = topology
        self.replies = Queue(f"{topology.queue}.bench-replies", exclusive=True, auto_delete=True)
        self.answered: dict[str, Any] = {}
        self.consumer = Consumer(
            conn.channel(), queues=[self.replies], callbacks=[self._on_reply], accept=["json"]
        )
        self.consumer.consume()
        self.producer = Producer(conn.channel())

    def _on_reply(self, body: Any, message: Any) -> None:
        self.answered[message.properties["correlation_id"]] = (
            json.loads(body) if isinstance(body, str) else body
        )
        message.ack()

    def send(self, bodies: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
        """(seconds from the first publish to the last reply, the replies in order)."""
        ids = [str(uuid4()) for _ in bodies]
        started = time.perf_counter()
        for correlation_id, body in zip(ids, bodies, strict=True):
            self.producer.publish(
                json.dumps(body),
                exchange=self.topology.command_exchange,
                routing_key=COMMANDS_KEY,
                reply_to=self.replies.name,
                correlation_id=correlation_id,
                content_type="application/json",
                content_encoding="utf-8",
                declare=[self.topology.command_queue],
            )
        deadline = time.monotonic() + 120 + len(bodies)
        while not all(cid in self.answered for cid in ids):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {sum(c in self.answered for c in ids)} of {len(ids)} replies arrived"
                )
            try:
                self.conn.drain_events(timeout=1)
            except TimeoutError:
                continue
        seconds = time.perf_counter() - started
        return seconds, [self.answered.pop(cid) for cid in ids]


@contextmanager
def fleet(
    home: Path, store: str, workers: int, now: str | None = None, options: tuple[str, ...] = ()
) -> Iterator[Fleet]:
    """`workers` processes (`bookit run --every 3600 *options`) serving the store at
    `home`/`store`, consuming; stopped afterwards. With `--processes N` each is N processes, of
    which N-1 consume."""
    prefix = f"bench-{uuid4().hex[:10]}"
    topology = Topology.from_env({"BOOKIT_BUS_PREFIX": prefix})
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
        | {
            "BOOKIT_HOME": str(home),
            "BOOKIT_STORE": store,
            "BOOKIT_BUS": AMQP,
            "BOOKIT_BUS_PREFIX": prefix,
            "BOOKIT_SECRET": "bench-link-secret-0123456789",
            "BOOKIT_HTTP_HOST": "127.0.0.1",
        }
        | ({"BOOKIT_NOW": now} if now else {})
    )
    logs = [open(home / f"worker-{n}.log", "w") for n in range(workers)]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [BOOKIT, "run", "--every", "3600", *options],
            env=env | {"BOOKIT_HTTP_PORT": str(_free_port())},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        with Connection(AMQP) as conn:
            _wait_for_consumers(conn, topology, procs, home)
            yield Fleet(conn, topology)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        _clean_broker(topology)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_consumers(conn: Connection, topology: Topology, procs: list[Any], home: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    channel = conn.channel()
    while time.monotonic() < deadline:
        for n, proc in enumerate(procs):
            if proc.poll() is not None:
                tail = (home / f"worker-{n}.log").read_text()[-500:]
                raise RuntimeError(f"worker {n} exited with {proc.returncode}: {tail}")
        try:
            _, _, consumers = channel.queue_declare(queue=topology.queue, passive=True)
        except conn.channel_errors:
            channel = conn.channel()  # not declared yet; a failed passive declare closes the channel
            consumers = 0
        if consumers >= len(procs):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{len(procs)} workers did not start consuming within {START_TIMEOUT:.0f}s")


def _clean_broker(topology: Topology) -> None:
    with Connection(AMQP) as conn:
        for kind, name in (
            ("queue", topology.queue),
            ("exchange", topology.exchange),
            ("exchange", topology.events),
        ):
            channel = conn.channel()  # a failed delete closes its channel
            try:
                if kind == "queue":
                    channel.queue_delete(name)
                else:
                    channel.exchange_delete(name)
            except conn.channel_errors:
                pass
