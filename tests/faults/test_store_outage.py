"""Store outage and lock contention: the database goes away or stays busy under BookIT.

PostgreSQL: instead of restarting the shared cluster (other tests use it), every session on this
test's own database is terminated with `pg_terminate_backend`, again and again, while a worker
consumes commands; the effect on BookIT is the same as a restart (every connection dies at
once), without touching anybody else's database.

SQLite: another process holds `BEGIN EXCLUSIVE` on events.sqlite, first for a few seconds (less
than the 30 s lock timeout: commands wait and succeed), then for longer (they must fail clearly
and write nothing, or retry).

Afterwards nothing is half-written: the DESIGN.md invariants hold and `replay --verify` passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from bookit import commands as c
from bookit.adapters.bus_topology import Topology
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from faults.harness import (
    BOOKIT,
    DAY,
    NOW,
    NOW_DT,
    ConfirmedClient,
    all_problems,
    postgres_and_rabbitmq,
    replies_problems,
    servers,
    terminate_backends,
)

USERS = [f"u{i}@example.com" for i in range(4)]


def quarter(n: int) -> tuple[str, str]:
    minutes = 8 * 60 + 15 * n
    return f"{minutes // 60:02}:{minutes % 60:02}", f"{(minutes + 15) // 60:02}:{(minutes + 15) % 60:02}"


def cli(home: Path, *args: str, store: str = "sqlite", env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [BOOKIT, "--json", "--home", str(home), "--store", store, "--now", NOW, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ | (env or {}),
    )


def book_args(user: str, n: int) -> list[str]:
    start, end = quarter(n)
    return ["book", "--user", user, "--venue", "main-hall", "--date", DAY, "--start", start, "--end", end]


def assert_failed_clearly(done: Any) -> None:
    """The contract: exit 1 or 2 and a one-line reason on stderr; never a Python traceback."""
    assert done.returncode in (1, 2), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, f"a traceback instead of a clear error:\n{done.stderr[-2000:]}"
    assert done.stderr.startswith("error: "), done.stderr[-2000:]


def booked(service: Service) -> list[Any]:
    app = service.app
    events = (app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10**6))
    return [e for e in events if e.TOPIC == "booking.booked"]


# PostgreSQL


@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BOOKIT_BUS_PREFIX", f"store{uuid4().hex[:12]}")
    home = tmp_path / "home"
    for url, store, topology in postgres_and_rabbitmq(home):
        yield url, store, home, topology


def test_a_worker_whose_postgresql_sessions_are_killed_again_and_again_loses_and_doubles_nothing(
    pg: Any,
) -> None:
    url, store, home, topology = pg
    bodies = [
        c.BookVenue(actor=USERS[n % 4], venue_id="main-hall", date=DAY, start=s, end=e)
        for n, (s, e) in enumerate(quarter(n) for n in range(40))
    ]
    bodies = [body.model_dump(mode="json") for body in bodies]
    bodies += [{**body, "command_id": str(uuid4()), "actor": USERS[3]} for body in bodies[:8]]  # collide
    bodies += [c.Tick(now=NOW_DT).model_dump(mode="json") for _ in range(4)]
    args = ["--home", str(home), "--store", store, "--bus", url, "--now", NOW, "run", "--every", "3600"]
    worker = servers.WorkerProcess(args, home / "worker.log").start()
    client = ConfirmedClient(url, topology)
    killed, stop = [0], threading.Event()

    def keep_killing() -> None:
        while not stop.wait(0.25):
            killed[0] += terminate_backends(store)

    killer = threading.Thread(target=keep_killing)
    try:
        # Mid-run: the worker is up and consuming. (One whose store is down while it starts
        # waits for it: the last test in this file.)
        servers.wait_until(lambda: "consuming from" in worker.output(), "the worker to consume")
        sent = [client.publish(body) for body in bodies]
        killer.start()
        time.sleep(5)  # the outage: every session dies four times a second
        stop.set()
        killer.join()
        try:
            replies = client.collect(set(sent), timeout=120)
        except AssertionError as failure:
            raise AssertionError(f"{failure}; worker log:\n{worker.output()[-3000:]}") from None
        alive = worker.alive
    finally:
        stop.set()
        worker.stop()
        client.close()

    assert killed[0] > 0, "the outage must really have cut sessions"
    assert alive, worker.output()[-3000:]
    accepted = [r for r in replies.values() if r["ok"]]
    refused = [r for r in replies.values() if not r["ok"]]
    assert len(accepted) == 40 + 4, refused
    assert {r["code"] for r in refused} <= {"slot_taken"}, refused
    service = bootstrap(home, store, clock=lambda: NOW_DT)
    try:
        assert replies_problems(service, replies) == []
        assert all_problems(service, contiguous=False) == []
        assert len(booked(service)) == 40
    finally:
        service.close()
    print(f"\npostgresql outage: {killed[0]} sessions killed, {len(sent)} commands, all answered")


def test_a_batch_whose_look_ups_lose_their_session_still_answers_every_command(pg: Any) -> None:
    """A worker's batch first reads its earlier refusals and which of its commands have receipts,
    one query each. When every session has just been killed, those queries fail; the batch must
    not take the worker down with them (a CI run saw a worker exit so): each command then asks
    for itself, with the store's own retries, and is answered."""
    from kombu import Connection, Queue

    from bookit.entrypoints import batching
    from bookit.entrypoints.bus_worker import CommandWorker

    _url, store, home, _topology = pg
    service = bootstrap(home, store=store, clock=lambda: NOW_DT)
    try:
        service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="UTC"))
        bodies = [
            c.BookVenue(actor=USERS[n], venue_id="hall", date=DAY, start=s, end=e).model_dump(mode="json")
            for n, (s, e) in enumerate(quarter(n) for n in range(3))
        ]
        queue, broker = Queue(f"lookups-{uuid4().hex}"), Connection("memory://")
        with broker.Producer() as producer:
            for body in bodies:
                producer.publish(json.dumps(body), routing_key=queue.name, declare=[queue])
        messages: list[Any] = []
        with broker.Consumer(queue, callbacks=[lambda _body, message: messages.append(message)]):
            while len(messages) < len(bodies):
                broker.drain_events(timeout=2)
        assert terminate_backends(store) > 0  # the service's pooled sessions are dead now

        worker = CommandWorker(service, lambda: NOW_DT)
        replies = [reply for _message, reply in batching.run_batch(worker, messages)]

        assert [reply["ok"] for reply in replies] == [True, True, True], replies
        assert len(booked(service)) == 3
    finally:
        service.close()


def test_a_cli_command_whose_postgresql_session_is_killed_fails_clearly_and_writes_nothing(pg: Any) -> None:
    _, store, home, _ = pg
    dbname = store.rsplit("/", 1)[1]
    with psycopg.connect(store) as locker:
        locker.execute("LOCK TABLE bookit_events IN EXCLUSIVE MODE")  # the CLI will wait on it
        waiting = subprocess.Popen(
            [BOOKIT, "--home", str(home), "--store", store, "--now", NOW, *book_args(USERS[0], 1)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        servers.wait_until(lambda: _sessions_waiting_for_a_lock(dbname), "the CLI to wait on the lock")
        with psycopg.connect(servers.PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                (dbname, locker.info.backend_pid),
            )
        locker.rollback()
    out, err = waiting.communicate(timeout=120)
    done = subprocess.CompletedProcess(waiting.args, waiting.returncode, out, err)
    service = bootstrap(home, store, clock=lambda: NOW_DT)
    try:
        if done.returncode == 0:  # it retried: then it booked, once
            assert len(booked(service)) == 1
        else:
            assert_failed_clearly(done)
            assert booked(service) == []
        assert all_problems(service, contiguous=False) == []
    finally:
        service.close()


def _sessions_waiting_for_a_lock(dbname: str) -> int:
    with psycopg.connect(servers.PG_ADMIN, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (dbname,)
        ).fetchone()
    return int(row[0]) if row else 0


# SQLite


@pytest.fixture
def sqlite_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    done = cli(home, "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")
    assert done.returncode == 0, done.stderr
    return home


class Holder:
    """Another process that holds an exclusive lock on the event store for `seconds`."""

    def __init__(self, path: Path, seconds: float) -> None:
        code = (
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "db.execute('COMMIT')\n"
        )
        self.proc = subprocess.Popen(
            ["python3", "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"

    def wait(self) -> None:
        self.proc.wait(timeout=120)


def run_together(*argvs: list[str], home: Path) -> list[Any]:
    results: list[Any] = [None] * len(argvs)

    def run(i: int) -> None:
        results[i] = cli(home, *argvs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(argvs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_commands_wait_out_a_sqlite_store_held_busy_for_a_few_seconds(sqlite_home: Path) -> None:
    holder = Holder(sqlite_home / "events.sqlite", seconds=4)
    ann, bob, cat = run_together(
        book_args(USERS[0], 2), book_args(USERS[1], 2), book_args(USERS[2], 5), home=sqlite_home
    )
    holder.wait()
    contested = sorted([ann, bob], key=lambda done: done.returncode)
    assert [d.returncode for d in contested] == [0, 1], [d.stderr for d in contested]
    assert json.loads(contested[1].stdout)["code"] == "slot_taken"
    assert cat.returncode == 0, cat.stderr
    service = bootstrap(sqlite_home, clock=lambda: NOW_DT)
    try:
        assert len(booked(service)) == 2
        assert all_problems(service) == []
    finally:
        service.close()


LOCK_TIMEOUT = 5  # BOOKIT_SQLITE_LOCK_TIMEOUT for the test below (30 s by default)
LONG_LOCK = 8.0  # longer than that


@pytest.fixture
def rabbit(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BOOKIT_BUS_PREFIX", f"busy{uuid4().hex[:12]}")
    topology = Topology.from_env()
    for url in servers.broker(servers.RABBITMQ, topology):
        yield url, topology


def test_a_sqlite_store_busy_past_the_lock_timeout_gives_a_clear_error_and_the_worker_retries(
    sqlite_home: Path, rabbit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One long lock, two ways in: the local CLI must give up with a clear error and write
    nothing; a bus worker must keep the command (requeue) and carry it out once the lock goes.
    The timeout is set short for the test, as an operator would set it."""
    monkeypatch.setenv("BOOKIT_SQLITE_LOCK_TIMEOUT", str(LOCK_TIMEOUT))
    url, topology = rabbit
    args = ["--home", str(sqlite_home), "--bus", url, "--now", NOW, "run", "--every", "3600"]
    worker = servers.WorkerProcess(args, sqlite_home / "worker.log").start()
    client = ConfirmedClient(url, topology)
    try:
        servers.wait_until(lambda: "consuming from" in worker.output(), "the worker to consume")
        holder = Holder(sqlite_home / "events.sqlite", seconds=LONG_LOCK)
        body = c.BookVenue(actor=USERS[1], venue_id="main-hall", date=DAY, start="12:00", end="13:00")
        sent = client.publish(body.model_dump(mode="json"))
        local = cli(sqlite_home, *book_args(USERS[0], 3))
        holder.wait()
        replies = client.collect({sent}, timeout=120)
        alive = worker.alive
    finally:
        worker.stop()
        client.close()
    assert alive, worker.output()[-3000:]
    assert replies[sent]["ok"], replies
    service = bootstrap(sqlite_home, clock=lambda: NOW_DT)
    try:
        assert [e.user for e in booked(service)] == [USERS[1]], "the CLI's command must leave nothing"
        assert all_problems(service) == []
    finally:
        service.close()
    assert_failed_clearly(local)


def test_a_worker_started_before_its_database_exists_waits_for_it_then_serves(
    tmp_path: Path, rabbit: Any
) -> None:
    """A supervisor may start BookIT while PostgreSQL is still coming up: the worker says what
    it waits for, retries with back-off, and serves once the store answers."""
    servers.need("127.0.0.1", 5432, "PostgreSQL")
    url, topology = rabbit
    name = f"bookit_t_{uuid4().hex[:16]}"
    store, home = f"postgresql://postgres@127.0.0.1:5432/{name}", tmp_path / "home"
    args = ["--home", str(home), "--store", store, "--bus", url, "--now", NOW, "run", "--every", "3600"]
    worker = servers.WorkerProcess(args, tmp_path / "worker.log").start()
    client = ConfirmedClient(url, topology)
    try:
        servers.wait_until(lambda: worker.output().count("store is unavailable") >= 2, "two retries")
        assert worker.alive and "consuming from" not in worker.output()
        with psycopg.connect(servers.PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        servers.wait_until(lambda: "consuming from" in worker.output(), "the worker to consume")
        venue = c.RegisterVenue(actor=USERS[0], name="Main Hall", tz="Europe/London")
        sent = client.publish(venue.model_dump(mode="json"))
        replies = client.collect({sent}, timeout=60)
        output = worker.output()
    finally:
        worker.stop()
        client.close()
        with psycopg.connect(servers.PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert "Traceback" not in output, output[-3000:]
    # Served by the rules: a stranger may not register a venue.
    assert (replies[sent]["ok"], replies[sent]["code"]) == (False, "not_admin")
