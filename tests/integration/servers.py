"""Helpers for tests against the real PostgreSQL, RabbitMQ and Redis of this machine.

Each test gets its own PostgreSQL database and its own broker names (BOOKIT_BUS_PREFIX), and
both are removed afterwards. A server that cannot be reached skips the test with the reason,
except in CI (BOOKIT_REQUIRE_SERVERS=1), where it fails: a green CI must mean the tests ran.

Import the fixtures into a test module with `from servers import ...` (pytest puts this folder
on sys.path, as it has no __init__.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import redis
from kombu import Connection, Consumer, Message, Producer, Queue

from bookit import commands as c
from bookit.adapters.bus_topology import COMMANDS_KEY, Topology
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/0"
BOOKIT = str(Path(sys.executable).with_name("bookit"))
WAIT = 30.0


def need(host: str, port: int, what: str) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        reason = f"{what} is not reachable at {host}:{port} ({error})"
        if os.environ.get("BOOKIT_REQUIRE_SERVERS") == "1":
            pytest.fail(reason + "; BOOKIT_REQUIRE_SERVERS=1, so this is a failure (start it: .ci/run)")
        pytest.skip(reason)


@pytest.fixture
def pg_store() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, as a --store URL."""
    need("127.0.0.1", 5432, "PostgreSQL")
    yield from fresh_database()


def fresh_database() -> Iterator[str]:
    name = f"bookit_t_{uuid4().hex[:16]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topology(monkeypatch: pytest.MonkeyPatch) -> Topology:
    """Broker names no other test uses; the prefix reaches worker processes through the env."""
    monkeypatch.setenv("BOOKIT_BUS_PREFIX", f"t{uuid4().hex[:12]}")
    return Topology.from_env()


def broker(url: str, topology: Topology) -> Iterator[str]:
    """Check the broker is up, hand out its URL, then delete this test's queue and exchanges."""
    host, port = ("127.0.0.1", 5672) if url.startswith("amqp") else ("127.0.0.1", 6379)
    need(host, port, "RabbitMQ" if url.startswith("amqp") else "Redis")
    try:
        yield url
    finally:
        _delete_names(url, topology)


def _delete_names(url: str, topology: Topology) -> None:
    with Connection(url) as conn:
        names = [("queue", topology.queue), ("exchange", topology.exchange), ("exchange", topology.events)]
        for kind, name in names:
            channel = conn.channel()
            try:
                getattr(channel, f"{kind}_delete")(name)
            except Exception:  # already gone (or never made): nothing to clean
                pass
            finally:
                channel.close()
    if url.startswith("redis"):
        # kombu keeps Redis bindings in keys of their own, which exchange_delete leaves behind.
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"_kombu.binding*{topology.exchange}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def rabbitmq(topology: Topology) -> Iterator[str]:
    yield from broker(RABBITMQ, topology)


@pytest.fixture
def redis_bus(topology: Topology) -> Iterator[str]:
    yield from broker(REDIS, topology)


def bookit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `bookit` command line, as a user would."""
    return subprocess.run([BOOKIT, *args], capture_output=True, text=True, timeout=timeout, env=os.environ)


def bookit_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = bookit("--json", *args)
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def own_bus_prefix() -> Iterator[Topology]:
    """Broker names no other test uses, for module-scoped fixtures (which cannot take the
    function-scoped `topology` fixture); the environment is put back afterwards."""
    previous = os.environ.get("BOOKIT_BUS_PREFIX")
    os.environ["BOOKIT_BUS_PREFIX"] = f"t{uuid4().hex[:12]}"
    try:
        yield Topology.from_env()
    finally:
        if previous is None:
            os.environ.pop("BOOKIT_BUS_PREFIX", None)
        else:
            os.environ["BOOKIT_BUS_PREFIX"] = previous


def worker_args(home: Path, store: str, bus: str, now: str) -> list[str]:
    """`bookit run` on this store and bus at a fixed clock, ticking once an hour."""
    return ["--home", str(home), "--store", store, "--bus", bus, "--now", now, "run", "--every", "3600"]


@dataclass
class WorkerProcess:
    """`bookit ... run` as a child process; its log is kept for the failure message."""

    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> WorkerProcess:
        # Each worker serves its link pages and API on a port of its own (the default, 8080, is
        # one for the whole machine, and other tests' workers may be running).
        env = {"BOOKIT_HTTP_PORT": str(free_port())} | dict(os.environ)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([BOOKIT, *self.args], stdout=out, stderr=out, env=env)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=WAIT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `bookit <args> run` processes; all are stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess([*args, "run", "--every", "3600"], tmp_path / f"worker{len(started)}.log")
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


class RawClient:
    """Another service: publishes JSON bodies by hand and collects every reply it gets."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.topology = topology
        self.conn = Connection(url)
        self.channel = self.conn.channel()
        self.reply_queue = Queue(f"{topology.queue}.test-replies.{uuid4().hex}", auto_delete=True)
        self.reply_queue(self.channel).declare()
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.consumer = Consumer(self.channel, queues=[self.reply_queue], on_message=self._on_reply)
        self.consumer.consume()
        self.producer = Producer(self.channel)

    def _on_reply(self, message: Message) -> None:
        correlation_id = str(message.properties.get("correlation_id"))
        self.replies.setdefault(correlation_id, []).append(json.loads(message.body))
        message.ack()

    def publish(self, body: bytes | str | dict[str, Any], reply: bool = True) -> str:
        """Send a body as-is (a dict becomes JSON); returns the correlation id."""
        correlation_id = str(uuid4())
        data = json.dumps(body) if isinstance(body, dict) else body
        extra = {"reply_to": self.reply_queue.name, "correlation_id": correlation_id} if reply else {}
        self.producer.publish(
            data,
            exchange=self.topology.command_exchange,
            routing_key=COMMANDS_KEY,
            declare=[self.topology.command_queue],
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            **extra,
        )
        return correlation_id

    def wait(self, correlation_ids: list[str], timeout: float = WAIT) -> list[dict[str, Any]]:
        """The first reply to each, in the order asked; fails if any does not come."""
        deadline = time.monotonic() + timeout
        while not all(cid in self.replies for cid in correlation_ids):
            if time.monotonic() > deadline:
                missing = [cid for cid in correlation_ids if cid not in self.replies]
                raise AssertionError(f"no reply within {timeout}s to {len(missing)} message(s)")
            drain(self.conn, 0.5)
        return [self.replies[cid][0] for cid in correlation_ids]

    def drain(self, seconds: float) -> None:
        """Keep listening for a while, so that a duplicate reply would have time to arrive."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            drain(self.conn, 0.2)

    def close(self) -> None:
        self.consumer.cancel()
        self.conn.release()


def drain(conn: Connection, timeout: float) -> None:
    """Deliver whatever arrives within `timeout` to the consumers' callbacks."""
    with contextlib.suppress(TimeoutError):
        conn.drain_events(timeout=timeout)


# A small world on the embedded store, shared by the bus tests


NOW = "2026-12-01T09:00:00+00:00"
DAY = "2026-12-03"
ANN, BOB = "ann@example.com", "bob@example.com"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[Service]:
    """The worker's store, opened by the test too: the venue is registered by the local operator."""
    service = bootstrap(home, clock=lambda: datetime.fromisoformat(NOW))
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    yield service
    service.close()


@pytest.fixture
def worker(
    workers: Callable[..., WorkerProcess], bus_url: str, home: Path, store: Service
) -> Callable[[], WorkerProcess]:
    """Start a worker on the test's store and bus (each test module defines `bus_url`)."""
    return lambda: workers("--home", str(home), "--bus", bus_url, "--now", NOW)


@pytest.fixture
def client(bus_url: str, topology: Topology) -> Iterator[RawClient]:
    raw = RawClient(bus_url, topology)
    yield raw
    raw.close()


def book_body(user: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    command = c.BookVenue(actor=user, venue_id="main-hall", date=DAY, start=start, end=end, **extra)
    return command.model_dump(mode="json")


def events_of(service: Service, topic: str) -> list[Any]:
    app = service.app
    return [
        event
        for event in (
            app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10**6)
        )
        if topic == event.TOPIC
    ]


def booked_count(service: Service, booking_id: str) -> int:
    return sum(str(e.originator_id) == booking_id for e in events_of(service, "booking.booked"))


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll until check() is truthy; a deadline, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def queued_messages(url: str, queue: str) -> int:
    """Ready (unacknowledged-and-returned included) messages waiting in a queue."""
    if url.startswith("redis"):
        # kombu keeps a Redis queue as a list, and Redis drops an empty list's key altogether.
        client = redis.Redis.from_url(url)
        try:
            return int(client.llen(queue))
        finally:
            client.close()
    with Connection(url) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue, passive=True)
        return int(count)
