"""The `bookit` executable as people and scripts use it (CONTRACT.md): exit codes 0/1/2, one
JSON object per line with --json, refusals as {"error", "code"}, bad input that writes nothing,
an audit trail in order, and read models that a replay rebuilds to the same content."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BOOKIT = Path(sys.executable).with_name("bookit")
NOW = "2026-12-01T09:00:00Z"
A, B = "a@example.com", "b@example.com"
SLOT = ["--venue", "main-hall", "--date", "2026-12-05", "--start", "10:00", "--end", "12:00"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def objects(self) -> list[dict[str, Any]]:
        """--json prints one object per line; anything else on stdout is a contract breach."""
        return [json.loads(line) for line in self.out.splitlines()]

    @property
    def one(self) -> dict[str, Any]:
        [obj] = self.objects
        return obj


@dataclass
class Bookit:
    home: Path
    now: str = NOW

    def __call__(self, *args: str, now: str | None = None, as_json: bool = True) -> Run:
        argv = [str(BOOKIT), "--home", str(self.home), "--now", now or self.now]
        argv += ["--json"] if as_json else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
        done = subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **kw: Any) -> Run:
        run = self(*args, **kw)
        assert run.code == 0, run.err
        return run

    def stored_events(self) -> int:
        with sqlite3.connect(self.home / "events.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM stored_events").fetchone()[0])


@pytest.fixture
def bookit(tmp_path: Path) -> Bookit:
    assert BOOKIT.exists(), f"console script not installed next to {sys.executable}"
    cli = Bookit(tmp_path / "home")
    assert cli.ok("venue", "add", "--name", "Main Hall", "--tz", "Europe/London").one == {
        "venue_id": "main-hall"
    }
    return cli


def test_done_refused_and_bad_input_have_exit_codes_0_1_2(bookit: Bookit) -> None:
    booked = bookit("book", "--user", A, *SLOT)
    assert booked.code == 0
    assert booked.one["status"] == "booked"

    taken = bookit("book", "--user", B, *SLOT)
    assert taken.code == 1
    assert taken.one["code"] == "slot_taken" and taken.one["error"].startswith(
        "slot is taken; join its waitlist"
    )
    assert "slot is taken" in taken.err

    malformed = bookit("book", "--user", B, *SLOT[:2], "--date", "2026-13-01", *SLOT[4:])
    assert malformed.code == 2
    assert set(malformed.one) == {"error", "code"} and "2026-13-01" in malformed.one["error"]


def test_refusal_without_json_names_the_rule_on_stderr_only(bookit: Bookit) -> None:
    booking = bookit.ok("book", "--user", A, *SLOT).one["booking_id"]
    run = bookit("confirm", booking, "--user", B, as_json=False)
    assert run.code == 1
    assert run.out == ""
    assert "only the owner may confirm" in run.err


def test_bad_input_and_refusals_write_no_event(bookit: Bookit) -> None:
    booking = bookit.ok("book", "--user", A, *SLOT).one["booking_id"]
    events = bookit.stored_events()
    listing = bookit.ok("bookings").out
    unknown = "00000000-0000-0000-0000-000000000000"
    attempts = [
        (2, ["book", "--user", B, "--venue", "nowhere", *SLOT[2:]]),
        (2, ["confirm", unknown, "--user", A]),
        (2, ["book", "--user", B, *SLOT[:2], "--date", "2026-13-01", *SLOT[4:]]),
        (2, ["book", "--user", B, *SLOT[:4], "--start", "12:00", "--end", "10:00"]),
        (2, ["book", "--user", B, *SLOT[:2], "--date", "2027-03-28", "--start", "01:30", "--end", "03:00"]),
        (2, ["book", "--user", B, *SLOT[:2], "--date", "2026-11-30", *SLOT[4:]]),
        (1, ["confirm", booking, "--user", B]),
        (1, ["cancel", booking, "--user", B]),
        (1, ["override", booking, "--user", B]),
    ]
    for expected, argv in attempts:
        run = bookit(*argv)
        assert run.code == expected, (argv, run.err)
        assert set(run.one) == {"error", "code"}
    assert bookit.stored_events() == events
    assert bookit.ok("bookings").out == listing
    assert bookit.ok("replay", "--verify").one["verified"] is True


def test_now_without_an_offset_is_bad_input(bookit: Bookit) -> None:
    run = bookit("tick", now="2026-12-01T09:00:00")
    assert run.code == 2
    assert run.one["code"] == "bad_now"


def test_json_prints_one_object_per_line(bookit: Bookit) -> None:
    first = bookit.ok("book", "--user", A, *SLOT).one["booking_id"]
    second = bookit.ok("book", "--user", B, *SLOT[:4], "--start", "13:00", "--end", "14:00").one
    rows = bookit.ok("bookings", "--date", "2026-12-05").objects
    assert [(r["booking_id"], r["user"], r["status"]) for r in rows] == [
        (first, A, "booked"),
        (second["booking_id"], B, "booked"),
    ]
    assert all(not r["confirmed"] and not r["reminded"] for r in rows)
    assert [r["booking_id"] for r in bookit.ok("bookings", "--user", B).objects] == [second["booking_id"]]
    assert bookit.ok("show", first).one["start"] == "10:00"


def test_history_shows_every_event_in_order_with_actor_and_command(bookit: Bookit) -> None:
    booking = bookit.ok("book", "--user", A, *SLOT).one["booking_id"]
    bookit.ok("tick", now="2026-12-04T10:00:00Z")
    bookit.ok("confirm", booking, "--user", A, now="2026-12-04T11:00:00Z")
    rows = [r for r in bookit.ok("history", booking).objects if r["aggregate_id"] == booking]
    assert [(r["topic"], r["actor"]) for r in rows] == [
        ("booking.booked", A),
        ("booking.reminded", "system"),
        ("booking.reminder_delivered", "system"),
        ("booking.confirmed", A),
    ]
    assert [r["at"] for r in rows] == [
        NOW,
        "2026-12-04T10:00:00Z",
        "2026-12-04T10:00:00Z",
        "2026-12-04T11:00:00Z",
    ]
    assert len({r["command_id"] for r in rows}) == 4  # each caused by its own command or timer
    text = bookit.ok("history", booking, as_json=False).out.splitlines()
    assert "booking.confirmed" in text[-1] and f"by {A}" in text[-1] and rows[-1]["command_id"] in text[-1]


def test_replay_rebuilds_the_same_read_models_after_a_session(bookit: Bookit) -> None:
    booking = bookit.ok("book", "--user", A, *SLOT).one["booking_id"]
    entry = bookit.ok("waitlist", "join", "--user", B, *SLOT).one["entry_id"]
    bookit.ok("cancel", booking, "--user", A, "--reason", "plans changed")
    claimed = bookit.ok("waitlist", "claim", entry, "--user", B, now="2026-12-01T09:10:00Z").one
    bookit.ok("tick", now="2026-12-04T10:00:00Z")
    before = bookit.ok("bookings").out
    assert bookit.ok("replay", "--verify").one == {"verified": True, "differences": []}
    assert bookit.ok("replay").one["events"] == bookit.stored_events()
    assert bookit.ok("bookings").out == before
    assert bookit.ok("show", claimed["booking_id"]).one["status"] == "confirmed"
