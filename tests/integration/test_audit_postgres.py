"""`bookit check`, `history` and `show --as-of` on PostgreSQL (a fresh database per test), the
way an operator runs them against a production store: read-only, from another process."""

# Fixtures come from servers.py by import, so a test's parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from servers import bookit, bookit_json, pg_store  # noqa: F401  (pg_store is a fixture)

from e2e.test_audit_check import forge_overlapping_booking

A, B, C = "alice@example.com", "bob@example.com", "carol@example.com"
SLOT = ["--venue", "main-hall", "--date", "2026-12-05", "--start", "10:00", "--end", "12:00"]


def stored_events(store: str) -> int:
    with psycopg.connect(store) as db:
        row = db.execute("SELECT count(*) FROM bookit_events").fetchone()
    assert row is not None
    return int(row[0])


def test_check_history_and_as_of_on_postgresql(pg_store: str, tmp_path: Path) -> None:
    home = str(tmp_path / "home")

    def cli(now: str, *args: str) -> tuple[int, dict]:
        return bookit_json("--home", home, "--store", pg_store, "--now", now, *args)

    assert cli("2026-12-01T09:00Z", "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")[0] == 0
    assert cli("2026-12-01T09:00Z", "book", "--user", A, *SLOT)[0] == 0
    code, b = cli("2026-12-01T09:05Z", "waitlist", "join", "--user", B, *SLOT)
    code, c = cli("2026-12-01T09:06Z", "waitlist", "join", "--user", C, *SLOT)
    for now in ("2026-12-04T10:00Z", "2026-12-05T08:00Z", "2026-12-05T08:15Z"):
        assert cli(now, "tick")[0] == 0
    code, then = cli("2026-12-05T09:00Z", "show", b["entry_id"], "--as-of", "2026-12-05T08:10:00Z")
    assert (code, then["status"], then["seconds_left"]) == (0, "offered", 300)
    done = bookit("--home", home, "--store", pg_store, "--json", "history", c["entry_id"], "--emails")
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and steps[0]["text"].startswith(f"{C} joined the queue")
    offers = [e["kind"] for s in steps for e in s["emails"]]
    assert offers == ["waitlist-offer"]  # C's, at 08:15, with its Message-ID

    assert cli("2026-12-05T08:20Z", "waitlist", "claim", c["entry_id"], "--user", C)[0] == 0

    before = stored_events(pg_store)
    code, ok = cli("2026-12-05T09:00Z", "check")
    assert (code, ok) == (0, {"ok": True, "events": ok["events"]}) and ok["events"] >= before
    assert stored_events(pg_store) == before

    booked, taken = forge_overlapping_booking(tmp_path / "forger", pg_store)
    done = bookit("--home", home, "--store", pg_store, "--json", "check")
    found = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1, done.stderr
    assert any("overlaps live booking" in v["violation"] and booked in v["event_ids"] for v in found)
    assert any("took time already taken" in v["violation"] and taken in v["event_ids"] for v in found)
