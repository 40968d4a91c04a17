"""`make bench` runs: every scenario of issue 4 completes at a tiny size and reports its figures.

No timing is asserted (the machine is shared); what is checked is that the benchmark measures
what it says, writes the JSON it promises, and that no scenario broke on the way.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.venue_day import VenueDay
from bookit.bootstrap import bootstrap

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"
SCENARIOS = {
    "raw_floor",
    "commands",
    "rules",
    "crud_peer",
    "tick",
    "tick_growth",
    "replay",
    "check",
    "snapshots",
    "month",
    "cli_startup",
    "memory",
    "api",
    "whatif",
    "observed",
    "worker",  # through a real RabbitMQ: the one scenario that needs a server
}


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def test_bench_smoke_runs_every_scenario_and_writes_results_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--stores", "sqlite", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())

    assert results["meta"]["mode"] == "smoke"
    entries = results["scenarios"]
    assert {e["name"] for e in entries} == SCENARIOS
    if not _reachable("127.0.0.1", 5672):  # no broker here: only the worker scenario may fail
        entries = [e for e in entries if e["name"] != "worker"]
    broken = {
        e["name"]: e.get("error") or e.get("errors") for e in entries if e.get("error") or e.get("errors")
    }
    assert not broken, broken
    for entry in entries:
        assert entry["figures"], entry["name"]
        assert all(value > 0 for value in entry["figures"].values()), entry
        assert entry["peak_rss_mb"] > 0
        if entry["name"] != "raw_floor":
            assert entry["ratios"], f"{entry['name']} has no ratio to the raw floor"
    # Both tick sizes ran, so the growth of a tick with the store's size is reported.
    assert len([e for e in entries if e["name"] == "tick"]) == 2
    assert any(g["goal"].startswith("tick_due_ms") for g in results["goals"])
    assert any("alternating in one process" in g["goal"] for g in results["goals"])
    assert any(g["goal"].startswith("commands with metrics + JSON logs") for g in results["goals"])
    for name in SCENARIOS:
        assert name in done.stdout  # the table on stdout


def test_bench_raw_floor_reports_the_three_store_rates(tmp_path: Path) -> None:
    out = tmp_path / "floor.json"
    subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--smoke",
            "--only",
            "raw_floor",
            "--stores",
            "sqlite",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (floor,) = json.loads(out.read_text())["scenarios"]
    assert set(floor["figures"]) == {"create_save_per_s", "get_command_save_per_s", "read_decode_per_s"}
    # Every aggregate was created, then commanded: twice as many notifications to read back.
    assert floor["params"]["notifications"] == 2 * floor["params"]["aggregates"]


def test_a_busy_venue_day_keeps_taking_bookings_past_its_fiftieth_event(tmp_path: Path) -> None:
    """BookIT snapshots a venue-day every 50 events (the load-cost benchmark relies on it).

    25 book-and-cancel rounds on one slot give the venue-day its 50th event with a booking live;
    the 25th booking must be taken like the others, and the day must still load.
    """
    clock_now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    service = bootstrap(tmp_path / "home", clock=lambda: clock_now)
    try:
        bus = service.bus
        bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall"))
        slot = {"venue_id": "hall", "date": "2026-12-10", "start": "10:00", "end": "11:00"}
        for _ in range(26):
            booked = bus.handle(c.BookVenue(actor="ann@example.org", **slot))
            bus.handle(c.CancelBooking(actor="ann@example.org", booking_id=booked["booking_id"]))
        day = service.app.repository.get(VenueDay.id_for("hall", "2026-12-10"))
        assert day.version > 50 and day.taken == {}
    finally:
        service.close()
