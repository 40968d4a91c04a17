"""`bookit whatif` on a simulated month: how many simulated days of recorded history it re-runs
per second of wall time (issue 13's goal: at least 0.5 on the full month, 50 venues x 30 days).

The history is made first by the month's simulation (`bookit.demo.simulation.Simulation`, a
tick every simulated minute, as `month.py`), then replayed with unchanged rules and with
`offer_window=auto offer_mode=batch:3`: reading the history, re-running it on a scratch store
and reading both outcomes, everything `bookit whatif` does but print. The baseline must equal
history, or the figure would mean nothing: it is checked here too.
"""

from __future__ import annotations

import time
from typing import Any

from common import fresh_store
from month import SLOTS, month_simulation


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    from bookit.config import Rules
    from bookit.whatif.changes import parse_changes
    from bookit.whatif.history import open_store, read_history
    from bookit.whatif.outcomes import Scope, compare, outcome_of
    from bookit.whatif.replay import replay

    if store != "sqlite":
        raise ValueError("the simulated month runs on the embedded store only")
    with fresh_store(store) as (home, _):
        simulation = month_simulation(home, size)
        try:
            summary = simulation.run()
            engine = simulation.service.engine
            figures: dict[str, Any] = {}
            for label, pairs in (
                ("baseline", []),
                ("auto_batch3", ["offer_window=auto", "offer_mode=batch:3"]),
            ):
                started = time.perf_counter()
                real = open_store(home / "month", "sqlite")
                history = read_history(real)
                replayed = replay(history, parse_changes(pairs), Rules())
                actual = outcome_of(real, engine, Scope())
                imagined = outcome_of(replayed.service.app, replayed.service.engine, Scope())
                seconds = time.perf_counter() - started
                report = compare(actual, imagined)
                figures[f"{label}_wall_s"] = seconds
                figures[f"{label}_simulated_days_per_s"] = size["days"] / seconds
                if label == "baseline":
                    figures["baseline_equals_history"] = all(
                        r["actual"] == r["whatif"] for r in report["figures"]
                    )
                    figures["actions"], figures["ticks"] = replayed.actions, replayed.ticks
                replayed.close()
                real.close()
        finally:
            simulation.close()
    return {"figures": figures, "params": dict(size, slots_per_day=len(SLOTS)), "summary": summary}
