"""How long `bookit` takes to start, as whole processes from the project's venv.

Four commands, each run `runs` times (median): the floors `python -c "import click"` and
`python -c "import sqlalchemy"` (the libraries the two commands stand on), `bookit --help`,
and `bookit venue list` on the embedded store with a few venues registered, each command run
in turn with its floor. The ratios are each command over its floor: what BookIT adds before
it can answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import fresh_store, median_ms

BOOKIT = str(Path(sys.executable).with_name("bookit"))


def _paired_ms(
    floor: list[str], command: list[str], env: dict[str, str], runs: int, expect: str
) -> tuple[float, float]:
    """Medians of `floor` and `command`, run in turn (floor, command, floor, ...) so that a
    burst of load on a shared machine weighs on both figures of the ratio alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for argv, wanted, times in ((floor, "", samples[0]), (command, expect, samples[1])):
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
            times.append(time.perf_counter() - started)
            if done.returncode != 0 or wanted not in done.stdout:
                raise AssertionError(f"{argv[1:]} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return median_ms(samples[0]), median_ms(samples[1])


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    if store != "sqlite":
        raise ValueError("the start-up figures are taken on the embedded store only")
    runs = size["runs"]
    with fresh_store(store) as (home, _):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOOKIT_")} | {
            "BOOKIT_HOME": str(home)
        }
        for n in range(size["venues"]):
            add = [BOOKIT, "venue", "add", "--name", f"Hall {n}", "--tz", "Europe/London"]
            subprocess.run(add, check=True, capture_output=True, env=env, timeout=120)
        click_ms, help_ms = _paired_ms(
            [sys.executable, "-c", "import click"], [BOOKIT, "--help"], env, runs, "venue"
        )
        sqlalchemy_ms, list_ms = _paired_ms(
            [sys.executable, "-c", "import sqlalchemy"], [BOOKIT, "venue", "list"], env, runs, "hall-0"
        )
        figures = {
            "python_import_click_ms": click_ms,
            "bookit_help_ms": help_ms,
            "python_import_sqlalchemy_ms": sqlalchemy_ms,
            "bookit_venue_list_ms": list_ms,
        }
    return {"figures": figures, "params": dict(size)}
