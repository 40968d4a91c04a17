"""What a tick costs when the store holds many future bookings (DESIGN rule 2).

The store is seeded in bulk with `future` bookings whose deadlines are months away, plus a few
groups of 100 bookings whose reminders fall due one group per hour. Then the real thing:
`service.bus.handle(Tick(now=...))`, first at instants where nothing is due, then once per
group (100 reminders to send, mail and record). The cost should follow what is due, not what
exists, so the figures at 10k or 100k should match those at 1k.

The first group that falls due is the process's first real work (templates compiled, the
mail's caches filled, the bookings' pages read from disk): it is reported on its own as
`tick_first_due_ms`, and the medians are of the groups after it, as a running service ticks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common import (
    NOW,
    FakeClock,
    fresh_store,
    hourly_plan,
    median_ms,
    register_venues,
    seed_bookings,
    service_for,
    settle_seed,
    timed,
)

from bookit import commands as c

PER_VENUE = 10
FIRST_DUE = NOW + timedelta(days=1)


def _due_plan(venues: list[str], groups: int, per_group: int) -> list[tuple[str, Any, Any]]:
    """Group g: `per_group` five-minute bookings, ten per venue, whose reminders fall due in the
    hour before FIRST_DUE + g hours. Each group has venues of its own, so no venue-day grows long."""
    plan = []
    width = per_group // PER_VENUE
    for group in range(groups):
        due = FIRST_DUE + timedelta(hours=group)
        for venue_id in venues[group * width : (group + 1) * width]:
            for k in range(PER_VENUE):
                starts_at = due + timedelta(hours=24) - timedelta(minutes=5 * k)
                plan.append((venue_id, starts_at, starts_at + timedelta(minutes=5)))
    return plan


def run(store: str, size: dict[str, int]) -> dict[str, Any]:
    future, per_group, groups = size["future"], size["due"], size["due_groups"]
    clock = FakeClock()
    with fresh_store(store) as (home, url):
        service = service_for(home, url, clock)
        seed_s, project_s = seed(service, future, groups, per_group)
        tick_at = ticker(service, clock)
        idle, due, idle_cpu, due_cpu = [], [], [], []
        for n in range(size["idle_ticks"]):
            instant = FIRST_DUE - timedelta(hours=1, minutes=60 - n)  # before anything is due
            cpu = time.process_time()
            idle.append(timed(lambda instant=instant: _expect(tick_at(instant), 0)))
            idle_cpu.append(time.process_time() - cpu)
        first_due = timed(lambda: _expect(tick_at(FIRST_DUE), per_group))
        for group in range(1, groups + 1):
            instant = FIRST_DUE + timedelta(hours=group)
            cpu = time.process_time()
            due.append(timed(lambda instant=instant: _expect(tick_at(instant), per_group)))
            due_cpu.append(time.process_time() - cpu)
        service.close()
    return {
        "figures": {
            "tick_nothing_due_ms": median_ms(idle),
            "tick_due_ms": median_ms(due),
            # CPU time of this process: less disturbed than wall time on a shared machine.
            "tick_nothing_due_cpu_ms": median_ms(idle_cpu),
            "tick_due_cpu_ms": median_ms(due_cpu),
            "tick_first_due_ms": first_due * 1000,
        },
        "params": dict(size),
        "seed": {"save_s": round(seed_s, 2), "project_s": round(project_s, 2)},
    }


def seed(service: Any, future: int, groups: int, per_group: int) -> tuple[float, float]:
    """`future` bookings months away and `groups + 1` groups of `per_group` falling due an hour
    apart from FIRST_DUE, projected; (seconds saving, seconds projecting)."""
    venues = register_venues(service, max((groups + 1) * per_group // PER_VENUE, min(50, future // 200)))
    seed_s = timed(
        lambda: seed_bookings(
            service, hourly_plan(venues, future, (NOW + timedelta(days=60)).date()), receipts=False
        )
    )
    seed_bookings(service, _due_plan(venues, groups + 1, per_group), receipts=False)
    return seed_s, timed(lambda: settle_seed(service))


def ticker(service: Any, clock: FakeClock) -> Callable[[Any], dict[str, Any]]:
    """A tick at a given instant, the clock moved there; three warm-up ticks already run (the
    first ticks after a big seed warm caches up; not what is measured)."""

    def tick_at(instant: Any) -> dict[str, Any]:
        clock.now = instant
        return dict(service.bus.handle(c.Tick(now=instant)))

    for n in range(3):
        tick_at(FIRST_DUE - timedelta(hours=2, minutes=60 - n))
    return tick_at


def _expect(outcome: dict[str, Any], handled: int) -> None:
    if outcome["handled"] != handled:
        raise AssertionError(f"tick should have handled {handled}, got {outcome}")
