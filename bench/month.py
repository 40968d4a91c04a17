"""A simulated month: venues with ten slots a day, people booking, cancelling, queueing and
claiming, and a fake clock ticking every minute (`bookit.demo.simulation.Simulation`).

Everything goes through the bus as in production (commands, ticks, emails to the Maildir), so
the wall time is what a month of that traffic costs, compressed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import fresh_store

SLOTS = tuple((f"{hour:02d}:00", f"{hour + 1:02d}:00") for hour in range(8, 18))


def month_simulation(home: Path, size: dict[str, int]) -> Any:
    """The month's simulation at this size, under `home` (also what `whatif.py` replays)."""
    from bookit.demo.simulation import Simulation

    return Simulation(
        home / "month",
        venues=size["venues"],
        days=size["days"],
        seed=4,
        tick_minutes=size["tick_minutes"],
        slots=SLOTS,
        users=max(40, 8 * size["venues"]),
    )


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    if store != "sqlite":
        raise ValueError("the simulation runs on the embedded store only")
    with fresh_store(store) as (home, _):
        simulation = month_simulation(home, size)
        started = time.perf_counter()
        try:
            summary = simulation.run()
        finally:
            seconds = time.perf_counter() - started
            simulation.close()
    ticks = size["days"] * 24 * 60 // size["tick_minutes"]
    return {
        "figures": {"wall_s": seconds, "simulated_days_per_min": size["days"] / seconds * 60},
        "params": dict(size, slots_per_day=len(SLOTS), ticks=ticks),
        "summary": summary,
    }
