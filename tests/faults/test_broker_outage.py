"""Broker outage: RabbitMQ's app is stopped (`rabbitmqctl stop_app`) for a few seconds while
commands are published and consumed, then started again.

What must hold: a publisher is told clearly (exit 1, `bus_unavailable`, the broker named) or
retries by itself; every command the broker confirmed before the outage is carried out once;
the worker that was running picks up again by itself, without a restart.

The outage is real and shared: other tests on this machine see it too, so it is kept short and
`harness.rabbitmq_stopped` always starts the app again.
"""

# Fixtures come from servers.py by import, so a test's parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from servers import (  # noqa: F401  (fixtures are used by name)
    ANN,
    BOB,
    DAY,
    NOW,
    WorkerProcess,
    book_body,
    booked_count,
    bookit_json,
    home,
    queued_messages,
    rabbitmq,
    store,
    topology,
    wait_until,
    workers,
)

from bookit.adapters.bus_topology import Topology
from bookit.bootstrap import Service
from faults.harness import BOOKIT, ConfirmedClient, all_problems, rabbitmq_stopped

OUTAGE_SECONDS = 3.0


def slot(n: int) -> tuple[str, str]:
    """The n-th quarter hour from 08:00: distinct slots, so every booking should succeed."""
    minutes = 8 * 60 + 15 * n
    return f"{minutes // 60:02}:{minutes % 60:02}", f"{(minutes + 15) // 60:02}:{(minutes + 15) % 60:02}"


def cli_book(bus: str, user: str, n: int, *extra: str) -> tuple[int, dict[str, Any], str]:
    start, end = slot(n)
    done = subprocess.run(
        [BOOKIT, "--json", "--bus", bus, "--now", NOW, *extra, "book", "--user", user]
        + ["--venue", "main-hall", "--date", DAY, "--start", start, "--end", end],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {}, done.stderr


def test_a_worker_survives_a_broker_outage_and_nothing_confirmed_before_it_is_lost(
    workers: Callable[..., WorkerProcess],
    rabbitmq: str,
    topology: Topology,
    store: Service,
    home: Path,
) -> None:
    worker = workers("--home", str(home), "--bus", rabbitmq, "--now", NOW)
    code, first, err = cli_book(rabbitmq, ANN, 0)
    assert code == 0, err

    client = ConfirmedClient(rabbitmq, topology)
    try:
        bodies = [book_body(BOB, *slot(n)) for n in range(1, 31)]
        sent = [client.publish(body) for body in bodies]  # each confirmed by the broker
        with rabbitmq_stopped():
            code, refused, err = cli_book(rabbitmq, ANN, 40)
            assert (code, refused["code"]) == (1, "bus_unavailable"), err
            assert "127.0.0.1:5672" in refused["error"] and "guest@" not in refused["error"]
            time.sleep(OUTAGE_SECONDS)
            assert worker.alive, "the worker must ride out the outage, not exit"

        booking_ids = [first["booking_id"]] + [book_ok_id(body) for body in bodies]
        handled = lambda: all(booked_count(store, b) for b in booking_ids)  # noqa: E731
        try:
            wait_until(handled, "every confirmed command to be handled", 60)
        except AssertionError as failure:
            missing = sum(not booked_count(store, b) for b in booking_ids)
            log = worker.output()[-4000:]
            raise AssertionError(f"{failure}: {missing} missing; worker log:\n{log}") from None
        code, after, err = cli_book(rabbitmq, ANN, 41)
        assert code == 0, f"the same worker consumes again after the outage: {err}"
        assert worker.alive

        # A publisher whose replies were lost with the connection sends the same commands again:
        # each gets the first outcome, and nothing happens twice.
        client.reconnect()
        again = [client.publish(body) for body in bodies]
        assert set(again) == set(sent)
        replies = client.collect(set(sent), timeout=60)
    finally:
        client.close()
    assert all(r["ok"] and r["result"]["status"] == "booked" for r in replies.values())
    assert all(booked_count(store, b) == 1 for b in [*booking_ids, after["booking_id"]])
    worker.stop()
    assert queued_messages(rabbitmq, topology.queue) == 0
    assert all_problems(store) == []


def book_ok_id(body: dict[str, Any]) -> str:
    from bookit.aggregates.base import derived_id

    return str(derived_id("booking", body["command_id"]))


def test_a_cli_waiting_for_its_reply_when_the_broker_goes_away_gets_it_once_the_broker_is_back(
    workers: Callable[..., WorkerProcess],
    rabbitmq: str,
    topology: Topology,
    store: Service,
    home: Path,
) -> None:
    start, end = slot(2)
    waiting = subprocess.Popen(
        [BOOKIT, "--json", "--bus", rabbitmq, "--now", NOW, "book", "--user", ANN]
        + ["--venue", "main-hall", "--date", DAY, "--start", start, "--end", end],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"BOOKIT_BUS_TIMEOUT": "90"},
    )
    try:
        wait_until(lambda: _queued(rabbitmq, topology) == 1, "the command to be queued (no worker yet)")
        with rabbitmq_stopped():
            time.sleep(OUTAGE_SECONDS)
        workers("--home", str(home), "--bus", rabbitmq, "--now", NOW)
        out, err = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    booked = json.loads(out.strip().splitlines()[-1])
    assert booked["status"] == "booked"
    assert booked_count(store, booked["booking_id"]) == 1
    code, mine = bookit_json("--home", str(home), "--now", NOW, "bookings", "--user", ANN)
    assert code == 0 and mine["booking_id"] == booked["booking_id"]


def _queued(url: str, topology: Topology) -> int:
    try:
        return queued_messages(url, topology.queue)
    except Exception:
        return 0  # not declared yet
