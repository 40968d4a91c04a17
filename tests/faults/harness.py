"""What the fault tests share: how to crash a process on purpose, take a server away for a
moment, and then prove from the store, the read models and the Maildir that nothing was lost,
doubled or half-written.

The checks read what a user would see: the events in the store (what happened), the outcome
a client was given (what it was told), the Maildir (what reached people). None of them trusts
the component under test to report on itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import psycopg
import servers  # tests/integration, on the path through this package's __init__
from kombu import Connection, Consumer, Message, Producer, Queue

from bookit import commands as c
from bookit.adapters.bus_topology import COMMANDS_KEY, Topology
from bookit.adapters.event_relay import broker_connection
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.policies.mail.owed import MAILED_TOPICS
from bookit.testing.invariants import check_invariants, notifications

NOW_DT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = NOW_DT.isoformat()
DAY = "2026-12-03"
BOOKIT = servers.BOOKIT


def postgres_and_rabbitmq(home: Path) -> Iterator[tuple[str, str, Topology]]:
    """A fresh PostgreSQL database and the RabbitMQ names of the test's BOOKIT_BUS_PREFIX, with
    Main Hall registered in a BookIT home on them; all removed afterwards.
    Yields (bus url, store url, topology)."""
    servers.need("127.0.0.1", 5432, "PostgreSQL")
    topology = Topology.from_env()
    for url in servers.broker(servers.RABBITMQ, topology):
        for store in servers.fresh_database():
            setup = bootstrap(home, store, clock=lambda: NOW_DT)
            setup.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
            setup.close()  # each test opens its own, when it needs it
            yield url, store, topology


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# What the store says happened


def stored_events(service: Service) -> list[Any]:
    app = service.app
    return [app.mapper.to_domain_event(n) for n in notifications(app)]


def event_count(service: Service) -> int:
    return int(service.app.recorder.max_notification_id() or 0)


def events_of_command(service: Service, command_id: str) -> list[Any]:
    return [e for e in stored_events(service) if getattr(e, "command_id", None) == command_id]


def exactly_once_problems(service: Service, contiguous: bool = True) -> list[str]:
    """Each command's events were saved once: one receipt, and (with one writer) one unbroken
    run in the log. A command applied twice would show two runs or two receipts."""
    runs: dict[str, list[int]] = defaultdict(list)
    receipts: Counter[str] = Counter()
    for notification in notifications(service.app):
        event = service.app.mapper.to_domain_event(notification)
        runs[event.command_id].append(notification.id)
        receipts[event.command_id] += event.TOPIC == "command.handled"
    problems = [f"command {cid} has {n} receipts" for cid, n in receipts.items() if n != 1]
    if contiguous:
        problems += [
            f"command {cid}'s events are split in the log: {ids}"
            for cid, ids in runs.items()
            if ids[-1] - ids[0] + 1 != len(ids)
        ]
    return problems


def replies_problems(service: Service, replies: dict[str, dict[str, Any]]) -> list[str]:
    """What each client was told matches the store: an accepted command has its receipt with
    the same outcome; a refused one left no event at all."""
    by_command: dict[str, list[Any]] = defaultdict(list)
    for event in stored_events(service):
        by_command[event.command_id].append(event)
    problems = []
    for command_id, reply in replies.items():
        if reply.get("ok"):
            outcome = service.app.outcome_of(command_id)
            if "now" in reply["result"]:
                continue  # a Tick: no receipt of its own, its timers have theirs
            if outcome != reply["result"]:
                problems.append(f"{command_id}: told {reply['result']}, store has {outcome}")
        elif by_command.get(command_id):
            problems.append(f"{command_id} was refused ({reply.get('code')}) but wrote events")
    return problems


# What reached people


def owed_message_ids(service: Service) -> Counter[str]:
    """One Message-ID per email each stored event owes (the mailer's own rule of what is owed)."""
    owed: Counter[str] = Counter()
    app = service.app
    for notification in notifications(app):
        if notification.topic in MAILED_TOPICS:
            for email in service.mailer.emails_for(app.mapper.to_domain_event(notification)):
                owed[email.message_id] += 1
    return owed


def maildir_message_ids(home: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    parser = BytesParser(policy=default_policy)
    for sub in ("new", "cur"):
        folder = home / "outbox" / sub
        if folder.is_dir():
            for path in folder.iterdir():
                with path.open("rb") as file:
                    found[str(parser.parse(file, headersonly=True)["Message-ID"])] += 1
    return found


def mail_problems(service: Service) -> list[str]:
    """Every email an event owes is in the Maildir exactly once, and nothing else is."""
    owed, delivered = owed_message_ids(service), maildir_message_ids(service.home)
    problems = [f"{mid} owed {n} times" for mid, n in owed.items() if n > 1]
    problems += [f"missing email {mid}" for mid in owed if mid not in delivered]
    problems += [f"email {mid} that no event owes" for mid in delivered if mid not in owed]
    problems += [f"email {mid} delivered {n} times" for mid, n in delivered.items() if n > 1]
    return problems


def all_problems(service: Service, contiguous: bool = True) -> list[str]:
    """The DESIGN.md invariants (which include `replay --verify`), exactly-once, and the mail."""
    return check_invariants(service) + exactly_once_problems(service, contiguous) + mail_problems(service)


# Crashing on purpose


class CrashPoints:
    """Counts the I/O boundaries this process crosses and SIGKILLs itself at the chosen one.

    The boundaries are where a real crash leaves different traces: around the event store's
    insert, every read-model statement and commit, around each Maildir delivery, and before
    every command (including the ones the mailer issues). No flush, no cleanup: SIGKILL.
    """

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.count = 0

    def cross(self, *_: Any) -> None:
        self.count += 1
        if self.count == self.target:
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self, service: Service) -> None:
        from sqlalchemy import event

        event.listen(service.engine, "before_cursor_execute", self.cross)
        event.listen(service.engine, "commit", self.cross)
        self.wrap(service.app.recorder, "insert_events")
        self.wrap(service.mailer.outbox, "deliver_all")
        self.wrap(service.app, "handle")

    def wrap(self, obj: Any, name: str) -> None:
        inner = getattr(obj, name)

        def crossing(*args: Any, **kwargs: Any) -> Any:
            self.cross()
            result = inner(*args, **kwargs)
            self.cross()
            return result

        setattr(obj, name, crossing)


def in_child(work: Callable[[], None], log: Path) -> tuple[str, int]:
    """Run `work` in a forked process (cheap: no re-import); ("killed", signal) or ("exit", code).

    The parent must hold no open database connection across the fork."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            work()
        except BaseException:
            with log.open("a") as out:
                out.write(traceback.format_exc())
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "killed", os.WTERMSIG(status)
    return "exit", os.WEXITSTATUS(status)


# Memory


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


# Servers taken away for a moment


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def rabbitmq_stopped() -> Iterator[None]:
    """RabbitMQ's app stopped (the node stays up), always started again, and awaited."""
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        servers.wait_until(lambda: port_open(5672), "RabbitMQ to listen again")


def terminate_backends(store: str) -> int:
    """Kill every PostgreSQL session on this test's database (BookIT's own, nobody else's)."""
    dbname = store.rsplit("/", 1)[1]
    with psycopg.connect(servers.PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return len(rows)


class ConfirmedClient:
    """Another service on the bus that publishes with publisher confirms, so that a publish that
    returned is on the broker's disk (a durable queue, persistent messages), and collects every
    reply. The contract's test for "nothing accepted is lost"."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.url = url
        self.topology = topology
        self.reply_queue = Queue(f"{topology.queue}.fault-replies", durable=True, auto_delete=False)
        self.replies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.reconnect()

    def reconnect(self) -> None:
        """A new connection (the old one died with the broker)."""
        self.conn = broker_connection(self.url)
        channel = self.conn.channel()
        self.reply_queue(channel).declare()
        self.topology.command_queue(channel).declare()
        self.producer = Producer(channel)

    def publish(self, body: bytes | str | dict[str, Any]) -> str:
        correlation_id = body["command_id"] if isinstance(body, dict) else os.urandom(8).hex()
        self.producer.publish(
            json.dumps(body) if isinstance(body, dict) else body,
            exchange=self.topology.command_exchange,
            routing_key=COMMANDS_KEY,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            reply_to=self.reply_queue.name,
            correlation_id=correlation_id,
        )
        return str(correlation_id)

    def replies_waiting(self) -> int:
        """Replies in the reply queue not yet collected (duplicates count too)."""
        return servers.queued_messages(self.url, self.reply_queue.name)

    def collect(self, wanted: set[str], timeout: float = servers.WAIT) -> dict[str, Any]:
        """Read replies (from a fresh connection: the old one may have died) until every wanted
        correlation id has one; returns the first reply of each."""

        def on_reply(message: Message) -> None:
            self.replies[str(message.properties.get("correlation_id"))].append(json.loads(message.body))
            message.ack()

        deadline = time.monotonic() + timeout
        with Connection(self.url) as conn, Consumer(conn.channel(), [self.reply_queue], on_message=on_reply):
            while not wanted <= set(self.replies):
                if time.monotonic() > deadline:
                    missing = len(wanted - set(self.replies))
                    raise AssertionError(f"{missing} of {len(wanted)} commands got no reply in {timeout}s")
                servers.drain(conn, 0.5)
            servers.drain(conn, 0.5)  # room for a duplicate reply to show up
        return {cid: self.replies[cid][0] for cid in wanted}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.release()
        with Connection(self.url) as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_delete(self.reply_queue.name)
