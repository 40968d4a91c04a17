"""`bookit simulate` as a person runs it: a table per policy, JSON with --json, the same seed
telling the same story, and nothing written to the operator's home (DESIGN rule 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BOOKIT = Path(sys.executable).parent / "bookit"


def simulate(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")}
    argv = [str(BOOKIT), "--home", str(home), "simulate", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)


def rows(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return {row["policy"]: row for row in report["rows"]}


def test_simulate_compares_policies_on_the_same_demand(tmp_path: Path) -> None:
    args = ("--policy", "today,all,auto+quiet", "--days", "3", "--venues", "3", "--seed", "11", "--json")
    first = rows(simulate(tmp_path / "home", *args))
    assert list(first) == ["today", "all", "auto+quiet"]
    # Offering everyone at once sends at least as many offers as one at a time, on the same demand.
    assert first["all"]["offer_emails"] >= first["today"]["offer_emails"] > 0
    for row in first.values():
        assert set(row) >= {
            "claimed_share",
            "median_minutes_to_claim",
            "offers_per_claim",
            "emails_per_person",
        }
    # The same seed tells the same story, figure for figure.
    assert rows(simulate(tmp_path / "again", *args)) == first
    # The operator's home is never written: every run has its own scratch store.
    assert not (tmp_path / "home" / "events.sqlite").exists()


def test_simulate_prints_a_table_with_the_command_that_made_it(tmp_path: Path) -> None:
    done = simulate(tmp_path, "--policy", "today", "--days", "1", "--venues", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "$ bookit simulate --policy today --days 1 --venues 1 --seed 7"
    assert lines[1].startswith("| policy ") and "claimed" in lines[1] and "lost to one behind" in lines[1]
    assert lines[3].startswith("| today ")
    assert done.stderr == ""  # no progress bar when stderr is not a terminal


def test_an_unknown_policy_is_bad_input(tmp_path: Path) -> None:
    done = simulate(tmp_path, "--policy", "today,sometimes", "--days", "1", "--venues", "1")
    assert done.returncode == 2
    assert "unknown part 'sometimes'" in done.stderr
