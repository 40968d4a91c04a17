"""Does a tick cost what is due, not what exists? Two stores in one process, one with `small`
and one with `large` future bookings, each with the same groups of 100 reminders falling due an
hour apart; their due ticks alternate (small, large, then large, small, ...), so both sizes
meet the same moments of a shared machine. The `tick` rows measure each size in a process of
its own, and one process's due tick can differ from another's by a third whatever the size.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from common import FakeClock, fresh_store, median_ms, service_for, timed
from ticks import FIRST_DUE, _expect, seed, ticker


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    per_group, rounds = size["due"], size["rounds"]
    sizes = {"small": size["small"], "large": size["large"]}
    with fresh_store(store) as (home_a, url_a), fresh_store(store) as (home_b, url_b):
        ticks = {}
        services = []
        for (name, future), (home, url) in zip(
            sizes.items(), [(home_a, url_a), (home_b, url_b)], strict=True
        ):
            clock = FakeClock()
            service = service_for(home, url, clock)
            services.append(service)
            seed(service, future, rounds, per_group)
            ticks[name] = ticker(service, clock)
            _expect(ticks[name](FIRST_DUE), per_group)  # each process-first mail, not measured
        cpu: dict[str, list[float]] = {"small": [], "large": []}
        wall: dict[str, list[float]] = {"small": [], "large": []}
        for group in range(1, rounds + 1):
            instant = FIRST_DUE + timedelta(hours=group)
            for name in ("small", "large") if group % 2 else ("large", "small"):
                started = time.process_time()
                wall[name].append(timed(lambda n=name, i=instant: _expect(ticks[n](i), per_group)))
                cpu[name].append(time.process_time() - started)
        for service in services:
            service.close()
    figures = {f"{name}_due_ms": median_ms(wall[name]) for name in sizes}
    figures |= {f"{name}_due_cpu_ms": median_ms(cpu[name]) for name in sizes}
    return {"figures": figures, "params": dict(size)}
