"""The upgrade test (DESIGN rule 20): the stores the previous release wrote, SQLite and a
PostgreSQL dump, opened by today's code with no hand step. The first command rebuilds the read
models by itself and says so in one line; then every read the old release recorded reads the
same, `bookit check` and `replay --verify` pass, and new commands work on the old store.

The first command is a real `bookit` process; the rest run the same command line in this
process (click's runner), which spares a second of interpreter start each."""

# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from old_stores import READ_AT, old_reads, postgres_store, sqlite_home
from servers import bookit

from bookit.entrypoints.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    if request.param == "sqlite":
        yield "sqlite", sqlite_home(tmp_path), "sqlite"
    else:
        for home, url in postgres_store(tmp_path):
            yield "postgres", home, url


def still_says(now: Any, was: Any) -> bool:
    """`now` says all `was` said, the same; it may add fields (an upcast event's new field in a
    history's `data`, a new column in a row), at any depth."""
    if isinstance(was, dict):
        return isinstance(now, dict) and all(key in now and still_says(now[key], was[key]) for key in was)
    if isinstance(was, list):
        return isinstance(now, list) and len(now) == len(was) and all(map(still_says, now, was))
    return bool(now == was)


def objects(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_rule_20_an_old_store_opens_reads_the_same_and_takes_new_commands(
    old_store: tuple[str, Path, str],
) -> None:
    kind, home, store = old_store

    where = ["--home", str(home), "--store", store, "--now", READ_AT, "--json"]
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(main, [*where, *args], catch_exceptions=False)
        result.returncode = result.exit_code
        return result

    first = bookit(*where, "venue", "list")
    assert first.returncode == 0, first.stderr
    rebuilt = [line for line in first.stderr.splitlines() if "read models" in line]
    assert len(rebuilt) == 1 and "rebuilt them for version" in rebuilt[0], first.stderr
    assert "from 635 events" in rebuilt[0]
    recorded = old_reads(kind)
    for read in recorded["reads"]:
        done = run(*read["args"])
        assert done.returncode == 0, (read["args"], done.stderr)
        assert "read models" not in done.stderr  # rebuilt once, not again
        old, new = objects(read["stdout"]), objects(done.stdout)
        assert len(new) == len(old), read["args"]
        for was, now in zip(old, new, strict=True):
            assert still_says(now, was), (read["args"], was, now)
    checked = run("check")
    assert checked.returncode == 0 and objects(checked.stdout)[-1] == {"ok": True, "events": 635}, (
        checked.stdout
    )
    assert run("replay", "--verify").returncode == 0

    # New commands on the old store: book, queue behind it, cancel; the queue is offered the time.
    slot = ["--venue", "main-hall", "--date", "2026-12-10", "--start", "09:00", "--end", "10:00"]
    booked = run("book", "--user", "new@example.com", *slot)
    assert booked.returncode == 0, booked.stderr
    booking = objects(booked.stdout)[0]["booking_id"]
    joined = run("waitlist", "join", "--user", "next@example.com", *slot)
    assert joined.returncode == 0, joined.stderr
    assert run("cancel", booking, "--user", "new@example.com").returncode == 0
    [entry] = objects(run("waitlist", "mine", "--user", "next@example.com").stdout)
    assert entry["status"] == "offered"
    old_booking = recorded["ids"]["checked_in"]
    assert objects(run("show", old_booking).stdout)[0]["status"] == "confirmed"
    again = run("check")
    assert again.returncode == 0, again.stdout
    assert run("replay", "--verify").returncode == 0
