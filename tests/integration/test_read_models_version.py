"""Read models that know their version (DESIGN rule 20), with real processes: a read-model
database built for another version is rebuilt from the events by whichever process opens it
first (a command, `bookit run`, a worker), once however many start together, with one line
that says so; the next process finds it current and says nothing."""

# ruff: noqa: F811

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from old_stores import READ_AT, postgres_store, sqlite_home
from servers import (  # noqa: F401  (fixtures are used by name)
    BOOKIT,
    RawClient,
    WorkerProcess,
    bookit,
    free_port,
    rabbitmq,
    topology,
    wait_until,
)
from sqlalchemy import text

from bookit import commands as c
from bookit.projections.database import make_engine
from bookit.projections.tables import READ_MODELS_VERSION

REBUILT = "rebuilt them for version"


def rebuilt_lines(*outputs: str) -> list[str]:
    return [line for out in outputs for line in out.splitlines() if REBUILT in line]


def start_together(*argvs: list[str]) -> list[subprocess.CompletedProcess[str]]:
    env = {"BOOKIT_HTTP_PORT": str(free_port())} | dict(os.environ)
    procs = [
        subprocess.Popen([BOOKIT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for argv in argvs
    ]
    done = []
    for proc, argv in zip(procs, argvs, strict=True):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


def test_rule_20_a_command_rebuilds_read_models_of_an_older_version_once(tmp_path: Path) -> None:
    home = sqlite_home(tmp_path)
    where = ["--home", str(home), "--now", READ_AT, "--json"]
    # Several processes at once on the old store: one rebuilds, in its turn; the others wait
    # for it and find the read models current.
    runs = start_together(*([*where, "bookings", "--venue", "main-hall"] for _ in range(3)))
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert len(rebuilt_lines(*(run.stderr for run in runs))) == 1, [run.stderr for run in runs]
    assert len({run.stdout for run in runs}) == 1 and runs[0].stdout.count("booking_id") == 6

    # A later release's read models: version recorded lower, rows it would write differently.
    engine = make_engine(f"sqlite:///{home / 'readmodels.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE read_models_version SET version = :v"), {"v": READ_MODELS_VERSION - 1})
        conn.execute(text("DELETE FROM bookings"))
    engine.dispose()
    after = bookit(*where, "bookings", "--venue", "main-hall")
    [line] = rebuilt_lines(after.stderr)
    assert f"were version {READ_MODELS_VERSION - 1}; rebuilt them for version {READ_MODELS_VERSION}" in line
    assert after.stdout == runs[0].stdout  # the rows are back, from the events
    quiet = bookit(*where, "bookings", "--venue", "main-hall")
    assert quiet.returncode == 0 and rebuilt_lines(quiet.stderr) == []


def test_rule_20_bookit_run_rebuilds_by_itself(tmp_path: Path) -> None:
    home = sqlite_home(tmp_path)
    worker = WorkerProcess(
        ["--home", str(home), "--now", READ_AT, "run", "--every", "3600"], tmp_path / "run.log"
    )
    try:
        worker.start()
        wait_until(lambda: "BookIT on" in worker.output(), "bookit run to start")
        assert len(rebuilt_lines(worker.output())) == 1, worker.output()
    finally:
        worker.stop()
    done = bookit("--home", str(home), "--json", "replay", "--verify")
    assert done.returncode == 0 and json.loads(done.stdout)["verified"] is True


@pytest.fixture
def old_postgres(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield from postgres_store(tmp_path)


def test_rule_20_postgres_workers_starting_at_once_rebuild_once(
    old_postgres: tuple[Path, str], rabbitmq: str, topology: object, tmp_path: Path
) -> None:
    home, store = old_postgres
    base = [
        "--home",
        str(home),
        "--store",
        store,
        "--bus",
        rabbitmq,
        "--now",
        READ_AT,
        "run",
        "--every",
        "3600",
    ]
    roles = [["--commands-only"], ["--commands-only"], ["--followers-only"]]
    workers = [WorkerProcess([*base, *role], tmp_path / f"w{n}.log") for n, role in enumerate(roles)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            wait_until(lambda w=worker: "BookIT " in w.output() or not w.alive, "each worker to start")
        logs = [worker.output() for worker in workers]
        assert all(worker.alive for worker in workers), logs
        assert len(rebuilt_lines(*logs)) == 1, logs
        # And they work: a booking over the bus is answered and in the read models.
        client = RawClient(rabbitmq, topology)  # type: ignore[arg-type]
        try:
            body = c.BookVenue(
                actor="new@example.com", venue_id="main-hall", date="2026-12-10", start="09:00", end="10:00"
            )
            [reply] = client.wait([client.publish(body.model_dump(mode="json"))])
        finally:
            client.close()
        assert reply["ok"], reply
    finally:
        for worker in workers:
            worker.stop()
    shown = bookit("--home", str(home), "--store", store, "--json", "show", reply["result"]["booking_id"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "booked"
    assert rebuilt_lines(shown.stderr) == []
