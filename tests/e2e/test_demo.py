"""`bookit demo`, run as the installed executable: a simulated stretch of days and its summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BOOKIT = str(Path(sys.executable).with_name("bookit"))
SUMMARY = (
    "bookings",
    "confirmed",
    "cancelled",
    "auto_cancelled",
    "reminders",
    "waitlist_joins",
    "offers",
    "claims",
    "expired_offers",
    "declined",
    "emails",
)


def bookit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BOOKIT, *args], capture_output=True, text=True, timeout=300)


def test_demo_prints_a_summary_line_for_everything_that_happened(tmp_path: Path) -> None:
    result = bookit("--home", str(tmp_path / "home"), "demo", "--days", "2")

    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    counts = {key.strip(): int(value) for key, value in lines.items()}
    assert set(SUMMARY) <= set(counts)
    assert counts["bookings"] > 0 and counts["emails"] > 0


def test_demo_json_summary_adds_up_and_a_used_home_is_refused(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    result = bookit("--home", home, "--json", "demo", "--days", "2", "--venues", "2", "--seed", "3")

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(SUMMARY) <= set(summary)
    assert summary["claims"] + summary["expired_offers"] + summary["declined"] <= summary["offers"]
    # A confirmed booking is never auto-cancelled.
    assert summary["confirmed"] + summary["auto_cancelled"] <= summary["bookings"]
    # Every booking made directly gets a receipt, every claim a note, every reminder and every
    # offer an email of its own.
    assert summary["emails"] >= summary["bookings"] + summary["reminders"] + summary["offers"]

    again = bookit("--home", home, "--json", "demo", "--days", "1")
    assert again.returncode == 2
    assert json.loads(again.stdout)["code"] == "not_empty"
    assert "empty --home" in again.stderr
