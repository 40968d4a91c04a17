"""Several `bookit run --bus` workers on one PostgreSQL database and one RabbitMQ queue.

The store is seeded with venues; then `workers` processes are started exactly as a deployment
runs them, and once all of them consume, `commands` BookVenue messages (distinct slots spread
over the venues, so they seldom meet on one venue-day) are published with `reply_to`. The rate
is commands per second from the first publish to the last reply: a reply comes only after its
command's events are stored, its read models written and its email delivered.

While they run, a sampler looks at the database's sessions every few milliseconds and counts
what the busy ones wait for: the event store's table lock (eventsourcing takes `LOCK TABLE ...
IN EXCLUSIVE MODE` on every insert, which orders the notification ids), a row another
transaction holds (the followers' tracked positions are read FOR UPDATE), or nothing (working).
That says where the ceiling comes from.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from common import FakeClock, fresh_store, rate, register_venues, service_for
from kombu import Connection, Consumer, Producer, Queue
from throughput import booking_slots

from bookit.adapters.bus_topology import COMMANDS_KEY, Topology

AMQP = os.environ.get("BOOKIT_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
BOOKIT = str(Path(sys.executable).with_name("bookit"))
START_TIMEOUT = 120.0

_WAITS = """
SELECT a.wait_event_type, l.locktype, c.relname
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
LEFT JOIN pg_class c ON c.oid = l.relation
WHERE a.datname = current_database() AND a.state = 'active' AND a.pid <> pg_backend_pid()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _what(wait_type: str | None, lock_type: str | None, relation: str | None) -> str:
    if wait_type != "Lock":
        return "working (or waiting on I/O, the client)"
    if lock_type == "relation":
        return f"table lock on {relation}"
    if lock_type == "tuple":
        return f"row lock on {relation}"
    if lock_type == "transactionid":
        return "a row another transaction holds"
    return f"{lock_type or 'a'} lock"  # an advisory lock at start, or granted before it was seen


class Sampler(threading.Thread):
    """Counts, every few ms, what each busy session of the database is doing."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.005):
                self.samples += 1
                for wait_type, lock_type, relation in conn.execute(_WAITS):
                    self.seen[_what(wait_type, lock_type, relation)] += 1

    def shares(self) -> dict[str, float]:
        busy = sum(self.seen.values())
        return {what: round(n / busy, 3) for what, n in self.seen.most_common()} if busy else {}


def run(store: str, size: dict[str, Any]) -> dict[str, Any]:
    if store == "sqlite":
        raise ValueError("several workers on one store: PostgreSQL only")
    workers, count = size["workers"], size["commands"]
    with fresh_store(store) as (home, url):
        service = service_for(home, url, FakeClock())
        slots = booking_slots(register_venues(service, size["venues"]), count)
        service.close()
        prefix = f"bench-{uuid4().hex[:10]}"
        topology = Topology.from_env({"BOOKIT_BUS_PREFIX": prefix})
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")} | {
            "BOOKIT_HOME": str(home),
            "BOOKIT_STORE": url,
            "BOOKIT_BUS": AMQP,
            "BOOKIT_BUS_PREFIX": prefix,
            "BOOKIT_SECRET": "bench-link-secret-0123456789",
            "BOOKIT_HTTP_HOST": "127.0.0.1",
        }
        logs = [open(home / f"worker-{n}.log", "w") for n in range(workers)]  # noqa: SIM115
        procs = [
            subprocess.Popen(
                [BOOKIT, "run", "--every", "3600"],
                env=env | {"BOOKIT_HTTP_PORT": str(_free_port())},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for log in logs
        ]
        try:
            with Connection(AMQP) as conn:
                _wait_for_consumers(conn, topology, workers, procs, home)
                seconds, refused, shares = _drive(conn, topology, slots, url)
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
    if refused:
        raise AssertionError(f"{refused} of {count} bookings were refused")
    return {
        "figures": {"commands_per_s": rate(count, seconds)},
        "params": dict(size),
        "waits": shares,
    }


def _wait_for_consumers(
    conn: Connection, topology: Topology, workers: int, procs: list[Any], home: Path
) -> None:
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
        if consumers >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{workers} workers did not start consuming within {START_TIMEOUT:.0f}s")


def _drive(
    conn: Connection, topology: Topology, slots: list[dict[str, str]], url: str
) -> tuple[float, int, dict[str, float]]:
    """Publish every booking, wait for every reply; (seconds, refused, what sessions waited on)."""
    replies = Queue(f"{topology.queue}.bench-replies.{uuid4().hex[:8]}", exclusive=True, auto_delete=True)
    answered: dict[str, dict[str, Any]] = {}

    def on_reply(body: Any, message: Any) -> None:
        answered[message.properties["correlation_id"]] = json.loads(body) if isinstance(body, str) else body
        message.ack()

    channel = conn.channel()
    with Consumer(channel, queues=[replies], callbacks=[on_reply], accept=["json"]):
        producer = Producer(conn.channel())
        sampler = Sampler(url)
        sampler.start()
        started = time.perf_counter()
        for n, slot in enumerate(slots):
            body = {"type": "BookVenue", "command_id": str(uuid4()), "actor": f"owner{n:05d}@example.org"}
            producer.publish(
                json.dumps(body | slot),
                exchange=topology.command_exchange,
                routing_key=COMMANDS_KEY,
                reply_to=replies.name,
                correlation_id=body["command_id"],
                content_type="application/json",
                content_encoding="utf-8",
                declare=[topology.command_queue],
            )
        deadline = time.monotonic() + 60 + len(slots)
        while len(answered) < len(slots):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(answered)} of {len(slots)} replies arrived")
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                continue
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
    refused = sum(1 for reply in answered.values() if not reply.get("ok"))
    return seconds, refused, sampler.shares()


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
