"""`bookit whatif` on real recorded histories (DESIGN rule 18): with unchanged rules it
reproduces the recorded outcomes exactly; one changed rule changes only what it should; the
real store is never written; no email is sent."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import bootstrap

BOOKIT = Path(sys.executable).parent / "bookit"


def bookit(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
    return subprocess.run(
        [str(BOOKIT), "--home", str(home), *args], capture_output=True, text=True, env=env, timeout=600
    )


def whatif(home: Path, *args: str) -> dict[str, Any]:
    done = bookit(home, "whatif", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def figures(report: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {row["figure"]: (row["actual"], row["whatif"]) for row in report["figures"]}


def fingerprint(home: Path) -> dict[str, str]:
    """The bytes of every file of the store, except what SQLite itself keeps beside a database
    while someone reads it (its shared-memory index, and a write-ahead log, which must be empty)."""
    for wal in home.glob("*-wal"):
        assert wal.stat().st_size == 0, f"{wal.name} was written"
    files = [p for p in sorted(home.iterdir()) if p.is_file() and not p.name.endswith(("-shm", "-wal"))]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded history: the simulated week's story, three venues, three days."""
    home = tmp_path_factory.mktemp("history") / "home"
    done = bookit(home, "demo", "--days", "3", "--venues", "3", "--seed", "5")
    assert done.returncode == 0, done.stderr
    return home


def test_rule_18_whatif_with_unchanged_rules_reproduces_history_and_writes_nothing(demo_home: Path) -> None:
    before = fingerprint(demo_home)
    report = whatif(demo_home)
    for name, (actual, imagined) in figures(report).items():
        assert actual == imagined, name
    assert figures(report)["bookings"][0] > 30 and figures(report)["claims"][0] > 0
    assert figures(report)["auto_cancellations"][0] > 0
    assert report["no_longer_apply"] == []
    assert all(people == [] for people in report["affected"].values())
    # Nothing was sent and nothing of the real store changed, not even its read models.
    assert sum(report["emails_counted_not_sent"].values()) == figures(report)["emails"][1]
    assert fingerprint(demo_home) == before


def test_whatif_by_venue_and_dates_counts_only_that(demo_home: Path) -> None:
    whole = figures(whatif(demo_home))
    one = figures(whatif(demo_home, "--venue", "venue-1", "--from", "2027-03-23", "--to", "2027-03-24"))
    assert one == {name: (a, w) for name, (a, w) in one.items() if a == w}  # still the baseline
    assert 0 < one["bookings"][0] < whole["bookings"][0]


def test_one_changed_rule_changes_only_what_it_should(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    service = bootstrap(home, clock=lambda: clock[0])

    def send(at: str, cls: type[c.Command], **fields: Any) -> Any:
        clock[0] = datetime.fromisoformat(at).replace(tzinfo=UTC)
        return service.bus.handle(c.build(cls, **fields))

    send("2026-12-01T09:00:00", c.RegisterVenue, actor=SYSTEM, name="Hall", tz="UTC", venue_id="hall")
    slot = {"venue_id": "hall", "date": "2026-12-04"}
    ann = send(
        "2026-12-01T09:05:00", c.BookVenue, actor="ann@example.com", start="14:00", end="16:00", **slot
    )
    bob = send(
        "2026-12-01T09:06:00", c.BookVenue, actor="bob@example.com", start="17:00", end="18:00", **slot
    )
    send("2026-12-03T14:00:00", c.Tick, now=datetime(2026, 12, 3, 14, tzinfo=UTC))  # Ann reminded
    send("2026-12-03T17:00:00", c.Tick, now=datetime(2026, 12, 3, 17, tzinfo=UTC))  # Bob reminded
    send("2026-12-03T18:00:00", c.ConfirmBooking, actor="bob@example.com", booking_id=bob["booking_id"])
    # Ann confirms 2 h 30 min before her start: in time for the 2-hour deadline, not for 3 hours.
    send("2026-12-04T11:30:00", c.ConfirmBooking, actor="ann@example.com", booking_id=ann["booking_id"])
    send("2026-12-04T18:00:00", c.Tick, now=datetime(2026, 12, 4, 18, tzinfo=UTC))
    service.close()

    same = figures(whatif(home))
    assert same["auto_cancellations"] == (0, 0)
    report = whatif(home, "cancel_lead_minutes=180")
    changed = figures(report)
    assert changed["auto_cancellations"] == (0, 1)
    assert changed["bookings"] == (2, 2) and changed["offers"] == (0, 0)
    assert report["affected"]["auto_cancelled_only_in_whatif"] == ["ann@example.com 2026-12-04 14:00"]
    # Her confirmation no longer applies: it is listed, not silently dropped. Bob's still does.
    [gone] = report["no_longer_apply"]
    assert gone["action"].startswith("2026-12-04 11:30:00 ConfirmBooking by ann@example.com")
    assert "auto_cancelled" in gone["refused"] or "cancelled" in gone["refused"]


def test_bad_changes_are_refused_before_anything_runs(demo_home: Path) -> None:
    for bad, says in (
        ("colour=blue", "unknown rule 'colour'"),
        ("offer_mode=sometimes", "not an offer mode"),
    ):
        done = bookit(demo_home, "whatif", bad)
        assert done.returncode == 2 and says in done.stderr
    done = bookit(demo_home.parent / "empty", "whatif")
    assert done.returncode == 2 and "no BookIT store" in done.stderr
