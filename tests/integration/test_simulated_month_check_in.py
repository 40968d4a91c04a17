"""The simulated month with check-in on (DESIGN rule 14): some owners do not turn up, their
bookings are released when check-in closes, and the waitlist recovers part of the freed time.
Every promise of DESIGN.md still holds at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bookit.demo.simulation import Simulation, check_invariants
from bookit.projections import queries

SLOTS = (("09:00", "11:00"), ("10:00", "12:00"), ("14:00", "16:00"))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulation, dict[str, int]]]:
    sim = Simulation(
        tmp_path_factory.mktemp("month-check-in") / "home",
        venues=2,
        days=30,
        seed=2027,
        slots=SLOTS,
        users=20,
        attempts_per_slot=3,
        check_in_minutes=15,
        no_show_rate=0.2,
    )
    summary = sim.run()
    print("\nsimulated month with check-in:", summary)
    yield sim, summary
    sim.close()


def test_rule_14_a_month_with_check_in_keeps_every_promise(month: tuple[Simulation, dict[str, int]]) -> None:
    sim, _ = month
    assert check_invariants(sim.service) == []


def test_rule_14_no_shows_are_released_and_the_waitlist_recovers_part_of_their_time(
    month: tuple[Simulation, dict[str, int]],
) -> None:
    sim, summary = month
    assert summary["check_ins"] > 0 and summary["no_shows"] > 0
    assert 0 < summary["no_show_minutes_recovered"] <= summary["no_show_minutes_freed"]
    rows = queries.booking_list(sim.service.engine)
    assert sum(r["status"] == "no_show" for r in rows) == summary["no_shows"]
    kinds = [row["kind"] for row in queries.outbox(sim.service.engine)]
    assert kinds.count("no-show") == summary["no_shows"]


def test_rule_14_without_check_in_nobody_is_released(tmp_path: object) -> None:
    from pathlib import Path

    sim = Simulation(Path(str(tmp_path)) / "home", venues=1, days=3, seed=5)
    try:
        summary = sim.run()
    finally:
        sim.close()
    assert summary["no_shows"] == summary["check_ins"] == summary["no_show_minutes_freed"] == 0
