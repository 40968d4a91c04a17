"""BookIT on PostgreSQL (a fresh database per test): the README's CLI story, and what several
processes sharing one database must survive.

Events and read models both live in PostgreSQL; nothing but the outbox and the link secret is
written under --home.
"""

# Fixtures come from servers.py by import (this folder has no conftest of its own), so a test's
# parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from servers import bookit, bookit_json, pg_store, wait_until  # noqa: F401  (pg_store is a fixture)

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import bootstrap, store_env
from bookit.projections import queries
from bookit.projections.database import make_engine
from bookit.projections.projector import Projector

ANN, BOB = "ann@example.com", "bob@example.com"
SLOT = ["--venue", "main-hall", "--date", "2026-12-03", "--start", "14:00", "--end", "16:00"]


def test_the_cli_story_runs_on_postgresql_and_replays_to_the_same_read_models(
    pg_store: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"

    def cli(now: str | None, *args: str) -> tuple[int, dict[str, Any]]:
        clock = ["--now", now] if now else []
        return bookit_json("--home", str(home), "--store", pg_store, *clock, *args)

    assert cli(None, "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")[0] == 0
    code, booked = cli("2026-12-01T09:00Z", "book", "--user", ANN, *SLOT, "--purpose", "Choir")
    assert (code, booked["status"]) == (0, "booked")
    code, joined = cli("2026-12-01T09:05Z", "waitlist", "join", "--user", BOB, *SLOT)
    assert (code, joined["position"]) == (0, 1)

    code, reminded = cli("2026-12-02T14:00Z", "tick")
    assert code == 0 and reminded["handled"] >= 1
    code, cancelled = cli("2026-12-03T12:00Z", "tick")
    assert code == 0 and cancelled["handled"] >= 1

    code, claimed = cli("2026-12-03T12:06Z", "waitlist", "claim", joined["entry_id"], "--user", BOB)
    assert code == 0

    listing = bookit("--home", str(home), "--store", pg_store, "--json", "bookings")
    rows = sorted(
        ((r["user"], r["status"], r["confirmed"]) for r in map(_json, listing.stdout.splitlines())),
    )
    assert rows == [(ANN, "auto_cancelled", False), (BOB, "confirmed", True)]
    assert claimed["booking_id"] in listing.stdout

    code, verified = cli(None, "replay", "--verify")
    assert (code, verified["verified"]) == (0, True)

    assert not (home / "events.sqlite").exists() and not (home / "readmodels.sqlite").exists()
    with psycopg.connect(pg_store) as db:
        stored = db.execute("SELECT count(*) FROM bookit_events").fetchone()
        kinds = {row[0] for row in db.execute("SELECT kind FROM emails_sent")}
    assert stored is not None and stored[0] > 10
    assert {"reminder", "auto-cancelled", "waitlist-offer"} <= kinds


def _json(line: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_several_processes_starting_at_once_on_one_postgresql_all_start(
    pg_store: str, tmp_path: Path
) -> None:
    for round_ in range(3):  # the first round creates the schema, the others find it
        assert _open_together(6, tmp_path / f"round{round_}", pg_store) == [], f"round {round_}"


def _open_together(count: int, homes: Path, store: str) -> list[Exception]:
    """Bootstrap from several threads at the same instant; each opens its own sessions, as the
    worker processes would."""
    start = threading.Barrier(count)
    errors: list[Exception] = []

    def open_store(n: int) -> None:
        start.wait()
        try:
            bootstrap(homes / str(n), store).close()
        except Exception as error:  # what killed a worker at start
            errors.append(error)

    threads = [threading.Thread(target=open_store, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_workers_updating_the_read_models_at_once_both_succeed(pg_store: str, tmp_path: Path) -> None:
    """Two workers' projectors that reach the same new events together: one applies them, the
    other finds them applied. Neither may fail (a failure there fails the command it settles)."""
    service = bootstrap(tmp_path / "home", pg_store)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    service.app.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"), now)
    service.projector.catch_up()
    for hour in range(8, 12):
        book = c.BookVenue(
            actor=ANN, venue_id="main-hall", date="2026-12-03", start=f"{hour:02}:00", end=f"{hour:02}:30"
        )
        service.app.handle(book, now)

    # Hold the audit table so that both projectors are inside their transactions at once.
    gate = psycopg.connect(pg_store)
    gate.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
    errors: list[Exception] = []

    def project() -> None:
        engine = make_engine(store_env(tmp_path, pg_store)[1])
        try:
            Projector(service.app, engine).catch_up()
        except Exception as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=project) for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_until(lambda: _sessions_waiting_for_a_lock(pg_store) >= 2, "both projectors to be under way")
    gate.rollback()
    gate.close()
    for thread in threads:
        thread.join()

    assert [str(e).splitlines()[0] for e in errors] == []
    assert len(queries.booking_list(service.engine)) == 4
    service.close()


def _sessions_waiting_for_a_lock(store: str) -> int:
    database = store.rsplit("/", 1)[1]
    with psycopg.connect(store, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0
