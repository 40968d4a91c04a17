"""Venue rules are history (DESIGN rule 12): set by admins as events on the venue, shown by the
read models, and recorded on each booking they judged."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from bookit import commands as c
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_rules import VenueRules
from bookit.errors import Refused
from bookit.projections import queries
from bookit.projections.rebuild import verify

ADMIN, ANN = "admin@example.com", "ann@example.com"


@pytest.fixture
def hall(driver: Any) -> str:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    return driver.venue()


def test_rule_12_an_admin_sets_rules_and_the_history_says_who_and_when(driver: Any, hall: str) -> None:
    driver.clock.advance(minutes=5)
    outcome = driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, buffer_minutes=15, check_in_minutes=10)
    assert outcome["changed"] == ["buffer_minutes", "check_in_minutes"]
    row = queries.rules_of(driver.service.engine, hall)
    assert row is not None
    assert row["rules"]["buffer_minutes"] == 15 and row["rules"]["check_in_minutes"] == 10
    assert (row["set_by"], row["set_at"]) == (ADMIN, "2026-12-01T09:05:00Z")
    history = queries.venue_history(driver.service.engine, hall)
    assert [h["topic"] for h in history] == ["venue.registered", "venue.rules_set"]
    assert history[1]["actor"] == ADMIN and history[1]["data"]["changed"] == outcome["changed"]


def test_rule_12_only_admins_set_rules_and_a_refusal_writes_nothing(driver: Any, hall: str) -> None:
    before = len(driver.events())
    with pytest.raises(Refused) as info:
        driver.send(c.SetVenueRules, actor=ANN, venue_id=hall, buffer_minutes=15)
    assert info.value.code == "not_admin"
    assert len(driver.events()) == before
    assert queries.rules_of(driver.service.engine, hall)["rules"] == VenueRules().as_dict()  # type: ignore[index]


def test_rule_12_setting_the_same_rules_again_records_nothing(driver: Any, hall: str) -> None:
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, buffer_minutes=15)
    outcome = driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, buffer_minutes=15)
    assert outcome["changed"] == []
    rules_set = [e for e in driver.events() if isinstance(e, Venue.RulesSet)]
    assert len(rules_set) == 1


def test_rule_12_a_booking_records_the_rules_in_force_when_it_was_made(driver: Any, hall: str) -> None:
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, late_cancel_minutes=60)
    first = driver.book(ANN, hall, "2026-12-05", "10:00", "11:00")
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, late_cancel_minutes=240)
    second = driver.book(ANN, hall, "2026-12-05", "12:00", "13:00")
    app = driver.service.app
    assert app.booking(UUID(first)).rules.late_cancel_minutes == 60
    assert app.booking(UUID(second)).rules.late_cancel_minutes == 240
    venue = app.repository.get(Venue.id_for(hall))
    assert isinstance(venue, Venue) and venue.rules.late_cancel_minutes == 240


def test_rule_12_replay_rebuilds_the_rules_read_model_to_the_same_rows(driver: Any, hall: str) -> None:
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, quota_hours="4/day", offer_window="auto")
    assert queries.rules_of(driver.service.engine, hall)["rules"]["offer_window"] == "auto"  # type: ignore[index]
    assert verify(driver.service.app, driver.service.engine) == []
