"""Operators can see how it is (DESIGN rule 21), on real `bookit run` processes: /livez,
/readyz and /metrics, JSON logs with no address or name in them, and a trace from an HTTP
request to the stored events, the worker's log and the events out."""

# Fixtures come from servers.py by import (this folder has no conftest of its own).
# ruff: noqa: F811

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import BOOKIT, bookit, bookit_json, free_port, pg_store, rabbitmq, topology, wait_until  # noqa: F401
from tcp_proxy import TcpProxy

from api_client import SECRET, token

ANN, BOB = "ann@example.com", "bob@example.com"
SENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(who)}"}


def day(offset: int = 3) -> str:
    """A date ahead of the real clock (these services run on it)."""
    return (datetime.now(UTC) + timedelta(days=offset)).date().isoformat()


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    base: str
    out: Path
    err: Path

    def stderr_lines(self) -> list[str]:
        return [line for line in self.err.read_text(errors="replace").splitlines() if line.strip()]

    def logged(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr_lines()]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=30)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        answer = self.get("/metrics")
        assert answer.status_code == 200, answer.text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text)
            for s in family.samples
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                self.proc.wait()
                raise AssertionError(
                    f"bookit run did not stop on SIGTERM\n{self.err.read_text()[-6000:]}"
                ) from None


Start = Callable[..., Running]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """`bookit --home H <options> run <run_options>` with JSON logs and its own HTTP port.
    Ask for it after `pg_store`, so that the processes stop before their database goes."""
    started: list[Running] = []

    def run(*options: str, run_options: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Running:
        port = free_port()
        n = len(started)
        out, err = tmp_path / f"out{n}.log", tmp_path / f"err{n}.log"
        full_env = dict(os.environ) | {
            "BOOKIT_HTTP_PORT": str(port),
            "BOOKIT_API_SECRET": SECRET,
            "BOOKIT_LOG_FORMAT": "json",
            "BOOKIT_HOME": str(tmp_path / "home"),
            "PYTHONFAULTHANDLER": "1",
        }
        full_env |= env or {}
        argv = [BOOKIT, *options, "run", "--every", "3600", *run_options]
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(argv, stdout=o, stderr=e, env=full_env)
        running = Running(proc, f"http://127.0.0.1:{port}", out, err)
        started.append(running)
        wait_until(lambda: _answers(running), f"bookit run to serve /livez\n{err.read_text()}", timeout=120)
        return running

    yield run
    for running in started:
        running.stop()


def _answers(running: Running) -> bool:
    assert running.proc.poll() is None, running.err.read_text()
    try:
        return running.get("/livez").status_code == 200
    except httpx.HTTPError:
        return False


def commands_moved(before: dict[Any, float], after: dict[Any, float], **labels: str) -> float:
    def total(samples: dict[Any, float]) -> float:
        return sum(
            value
            for (name, found), value in samples.items()
            if name == "bookit_commands_total"
            and dict(found).get("command") != "Tick"
            and all(dict(found).get(k) == v for k, v in labels.items())
        )

    return total(after) - total(before)


def add_venue(home: str, *store: str) -> None:
    """The venue `book` books, registered by the local operator on the same store."""
    code, added = bookit_json("--home", home, *store, "venue", "add", "--name", "Main Hall", "--tz", "UTC")
    assert code == 0, added


def book(
    base: str, who: str, hour: int, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    body = {
        "venue_id": "main-hall",
        "date": day(),
        "start": f"{hour:02d}:00",
        "end": f"{hour:02d}:30",
        **extra,
    }
    return httpx.post(f"{base}/api/bookings", json=body, headers=auth(who) | (headers or {}), timeout=60)


def test_n_commands_over_http_move_the_command_counter_by_exactly_n_and_the_trace_reaches_the_events(
    start: Start, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    add_venue(home)
    service = start(env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "bookit-test"})
    assert service.get("/livez").json() == {"live": True}
    ready = service.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text
    before = service.metrics()
    n = 5
    answers = [
        book(service.base, ANN, 8 + i, purpose="Choir of Ann Smith", name="Ann Smith") for i in range(n - 1)
    ]
    traced = book(service.base, ANN, 20, {"traceparent": SENT}, name="Ann Smith")
    assert [a.status_code for a in [*answers, traced]] == [201] * n, traced.text
    after = service.metrics()
    assert commands_moved(before, after) == n
    assert commands_moved(before, after, command="BookVenue", outcome="ok") == n
    assert after[("bookit_events_stored_total", ())] > before.get(("bookit_events_stored_total", ()), 0)
    assert traced.headers["traceparent"].split("-")[1] == TRACE_ID

    # The trace is in the metadata of every event the traced command stored (shown by history).
    code, shown = bookit_json("--home", home, "history", traced.json()["booking_id"])
    assert code == 0 and shown["data"]["traceparent"].split("-")[1] == TRACE_ID
    # ... in the command's log line, and the access log names the route, not the caller.
    lines = service.logged()  # every line of stderr is one JSON object
    (line,) = [x for x in lines if x.get("command") == "BookVenue" and x.get("trace_id") == TRACE_ID]
    assert line["outcome"] == "ok" and line["command_id"] and line["ms"] > 0
    assert any(x.get("route") == "/api/bookings" and x.get("status") == 201 for x in lines)
    # Spans went to the configured exporter: the request, the command, its save, the followers, the email.
    spans = service.out.read_text()
    for name in ("HTTP POST", "command BookVenue", "save", "follower step", "email send"):
        assert f'"name": "{name}"' in spans, name
    assert TRACE_ID in spans
    service.stop()
    everything = service.err.read_text() + service.out.read_text()
    for personal in (ANN, "Ann Smith", "Choir"):
        assert personal not in everything, f"{personal!r} is in a log line"


def test_readyz_fails_while_postgresql_refuses_connections_and_livez_stays_200(
    pg_store: str, start: Start
) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432)).open()
    try:
        proxied = pg_store.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        service = start("--store", proxied)
        assert service.get("/readyz").status_code == 200
        proxy.close()  # PostgreSQL now refuses this test's processes, and only them
        refused = wait_until(
            lambda: (r := service.get("/readyz")).status_code == 503 and r, "/readyz to fail"
        )
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert (problem["status"], problem["code"], problem["failing"]) == (503, "not_ready", ["store"])
        assert "store: the store does not answer" in problem["detail"]
        assert service.get("/livez").status_code == 200
        assert service.get("/metrics").status_code == 200  # bookit_ready 0, no store figures
        proxy.open()
        wait_until(lambda: service.get("/readyz").status_code == 200, "/readyz to recover")
        assert service.get("/livez").status_code == 200
    finally:
        proxy.close()


def test_a_follower_stopped_with_work_pending_fails_readiness_and_raises_its_lag(
    pg_store: str, rabbitmq: str, start: Start, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    add_venue(home, "--store", pg_store)
    slow = {"BOOKIT_READY_MAX_LAG": "3", "BOOKIT_READY_STALL_SECONDS": "1"}
    worker = start(
        "--store",
        pg_store,
        "--bus",
        rabbitmq,
        run_options=("--commands-only", "--follow-wait", "0"),
        env=slow,
    )
    wait_until(lambda: any("consuming from" in x["msg"] for x in worker.logged()), "the worker to consume")
    for hour in range(8, 11):
        assert book(worker.base, ANN, hour).status_code == 201
    failing = wait_until(
        lambda: (r := worker.get("/readyz")).status_code == 503 and r.json(), "readiness to fail"
    )
    assert "follower:read_models" in failing["failing"] and "follower:mail" in failing["failing"]
    lag = worker.metrics()[("bookit_follower_lag_events", (("follower", "read_models"),))]
    assert lag >= 9  # three bookings, three events each at least, none followed
    assert worker.metrics()[("bookit_ready", ())] == 0
    assert worker.get("/livez").status_code == 200
    # The followers come back: they catch up and readiness follows.
    start("--store", pg_store, "--bus", rabbitmq, run_options=("--followers-only",), env=slow)
    wait_until(lambda: worker.get("/readyz").status_code == 200, "readiness once the followers run")
    assert worker.metrics()[("bookit_follower_lag_events", (("follower", "read_models"),))] == 0


def test_bookit_status_gives_the_same_checks_and_figures_and_exits_1_when_not_ready(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    add_venue(home)
    code, ready = bookit_json("--home", home, "status")
    assert code == 0 and ready["ready"] is True
    assert [c["name"] for c in ready["checks"]] == ["store", "follower:read_models", "follower:mail"]
    assert set(ready) >= {
        "followers",
        "oldest_pending_email_seconds",
        "timers_overdue",
        "waitlist_offers_open",
    }
    assert ready["followers"]["mail"] == {"position": ready["last_event"], "lag": 0}
    text = bookit("--home", home, "status")
    assert (
        text.returncode == 0
        and text.stdout.startswith("ready: yes")
        and "overdue timers: remind 0" in text.stdout
    )
    # A store that refuses connections: not ready, and the check says which.
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    code, down = bookit_json("--home", home, "--store", closed, "status")
    assert code == 1 and down["ready"] is False and down["checks"][0]["name"] == "store"
    assert not down["checks"][0]["ok"] and "does not answer" in down["checks"][0]["detail"]
