"""`bookit run` serves the HTTP API beside the link pages, on one port, and says where and
whether a token key is configured; with --bus its requests go through the broker."""

# Fixtures come from servers.py by import (this folder has no conftest of its own).
# ruff: noqa: F811

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from servers import BOOKIT, WorkerProcess, bookit_json, pg_store, rabbitmq, topology, wait_until  # noqa: F401

from api_client import SECRET, free_port, token, wait_listening

Start = Callable[..., tuple[WorkerProcess, str]]
AUTH = {"Authorization": f"Bearer {token('ann@example.com')}"}


@pytest.fixture
def run_bookit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    started: list[WorkerProcess] = []

    def start(secret: str | None, *options: str) -> tuple[WorkerProcess, str]:
        port = free_port()
        monkeypatch.setenv("BOOKIT_HTTP_PORT", str(port))
        if secret is None:
            monkeypatch.delenv("BOOKIT_API_SECRET", raising=False)
        else:
            monkeypatch.setenv("BOOKIT_API_SECRET", secret)
        args = ["--home", str(tmp_path / "home"), *options, "run", "--every", "3600"]
        process = WorkerProcess(args, tmp_path / f"run{len(started)}.log").start()
        started.append(process)
        wait_listening(port, timeout=60)
        wait_until(lambda: "HTTP API on" in process.output(), "the API's address on stderr")
        return process, f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


def test_bookit_run_serves_the_api_and_says_so(run_bookit: Start) -> None:
    process, base = run_bookit(SECRET)
    assert f"HTTP API on {base}/api/ (tokens signed with HS256)" in process.output()
    with httpx.Client(base_url=base, headers=AUTH) as client:
        assert client.get("/api/venues").json() == []
        assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")
        assert client.get("/l/not-a-token").status_code in (400, 404)  # the link pages, same port


def test_bookit_run_without_a_key_keeps_the_api_shut(run_bookit: Start) -> None:
    process, base = run_bookit(None)
    assert "no token key configured: every request answers 503" in process.output()
    answer = httpx.get(f"{base}/api/venues", headers=AUTH)
    assert (answer.status_code, answer.json()["code"]) == (503, "api_not_configured")


def test_bookit_run_with_a_bus_serves_the_api_through_the_broker(
    run_bookit: Start, pg_store: str, rabbitmq: str, topology: object
) -> None:
    process, base = run_bookit(SECRET, "--store", pg_store, "--bus", rabbitmq)
    wait_until(lambda: "consuming from" in process.output(), "the worker to consume")
    # The local operator registers the venue on the same store (over the bus it would need an admin).
    venue = bookit_json("--store", pg_store, "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")
    assert venue[0] == 0, venue
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
        slot = {"venue_id": "main-hall", "date": "2030-12-03", "start": "14:00", "end": "16:00"}
        made = client.post("/api/bookings", json=slot)
        assert made.status_code == 201, made.text
        shown = client.get(f"/api/bookings/{made.json()['booking_id']}")
        assert (shown.status_code, shown.json()["status"]) == (200, "booked")
        taken = client.post("/api/bookings", json=slot)
        assert (taken.status_code, taken.json()["code"]) == (409, "slot_taken")


def test_bookit_run_on_a_port_it_cannot_serve_exits_non_zero_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second `bookit run` on a busy port used to log "not served" and tick on without its API
    for ever: a half-running service. Now it exits 1 before it ticks, naming the port and what
    to do, without a traceback."""
    monkeypatch.setenv("BOOKIT_API_SECRET", SECRET)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        monkeypatch.setenv("BOOKIT_HTTP_PORT", str(port))
        run = subprocess.run(
            [BOOKIT, "--home", str(tmp_path / "home"), "run", "--every", "0.1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 1, run.stderr
    assert f"cannot serve the link pages and the HTTP API on 127.0.0.1:{port}" in run.stderr
    assert "BOOKIT_HTTP_PORT" in run.stderr
    assert "Traceback" not in run.stderr
    assert "ticking every" not in run.stderr and "tick at" not in run.stderr


def test_bookit_run_never_prints_the_store_password(run_bookit: Start, pg_store: str) -> None:
    # This machine's PostgreSQL trusts local connections, so any password is accepted and ignored.
    with_password = pg_store.replace("postgres@", "postgres:s3cret-pw@", 1)
    process, _base = run_bookit(SECRET, "--store", with_password)
    assert "postgres:***@127.0.0.1" in process.output()
    assert "s3cret-pw" not in process.output()
