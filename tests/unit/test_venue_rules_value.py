"""Venue rules as a value and as a command (DESIGN rule 12): defaults keep today's behaviour,
only the fields sent change, and bad values are refused at the edge with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.venue_rules import Quota, VenueRules
from bookit.errors import BadInput
from bookit.rules_use_cases import apply_changes

ADMIN = "admin@example.com"


def rules_command(**fields: Any) -> c.SetVenueRules:
    command = c.build(c.SetVenueRules, actor=ADMIN, venue_id="hall", **fields)
    assert isinstance(command, c.SetVenueRules)
    return command


def test_rule_12_default_rules_restrict_nothing() -> None:
    rules = VenueRules()
    assert rules.buffer_minutes == 0 and rules.min_notice_minutes == 0
    assert rules.max_advance_days is None and rules.quotas == ()
    assert rules.check_in_minutes is None and rules.no_show_strikes is None
    assert rules.offer_window is None and rules.quiet_hours is None and rules.offer_mode == "one"


def test_rule_12_rules_survive_the_round_trip_through_an_event() -> None:
    rules = VenueRules(
        buffer_minutes=15,
        quotas=(Quota("bookings", 3, "week"), Quota("hours", 1.5, "day")),
        offer_window="auto",
        quiet_hours="22:00-08:00",
        offer_mode="batch:3",
    )
    assert VenueRules.from_dict(rules.as_dict()) == rules


def test_rule_12_rules_recorded_before_a_field_existed_still_load() -> None:
    assert VenueRules.from_dict({"buffer_minutes": 10}) == VenueRules(buffer_minutes=10)
    assert VenueRules.from_dict(None) == VenueRules()
    assert VenueRules.from_dict({"buffer_minutes": 5, "a_field_from_the_future": 1}).buffer_minutes == 5


def test_rule_12_only_the_fields_sent_change_and_null_restores_the_default() -> None:
    current = VenueRules(buffer_minutes=15, max_advance_days=30, quotas=(Quota("hours", 4, "day"),))
    sent = rules_command(max_advance_days=None, quota_bookings=["2/day", "5/week"])
    changed = apply_changes(current, sent.changes())
    assert changed.buffer_minutes == 15  # not sent: kept
    assert changed.max_advance_days is None  # sent as null: back to no limit
    assert changed.quotas_of("hours") == (Quota("hours", 4.0, "day"),)
    assert changed.quotas_of("bookings") == (Quota("bookings", 2, "day"), Quota("bookings", 5, "week"))
    cleared = apply_changes(changed, rules_command(quota_hours=None).changes())
    assert cleared.quotas_of("hours") == ()


def test_rule_12_a_single_quota_may_be_sent_as_a_string() -> None:
    assert rules_command(quota_bookings="3/month").quota_bookings == ["3/month"]


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"buffer_minutes": -1}, "buffer_minutes"),
        ({"buffer_minutes": "many"}, "buffer_minutes"),
        ({"max_advance_days": 0}, "max_advance_days"),
        ({"quota_bookings": "3/year"}, "quota_bookings"),
        ({"quota_bookings": "0/day"}, "quota_bookings"),
        ({"quota_hours": "-2/week"}, "quota_hours"),
        ({"check_in_minutes": 0}, "check_in_minutes"),
        ({"no_show_strikes": 0}, "no_show_strikes"),
        ({"offer_window": "soon"}, "offer_window"),
        ({"offer_window": 0}, "offer_window"),
        ({"quiet_hours": "22:00"}, "quiet_hours"),
        ({"quiet_hours": "22:00-24:30"}, "quiet_hours"),
        ({"quiet_hours": "08:00-08:00"}, "quiet_hours"),
        ({"offer_mode": "some"}, "offer_mode"),
        ({"offer_mode": "batch:1"}, "offer_mode"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_rule_12_bad_rule_values_are_refused_naming_the_field(fields: dict[str, Any], names: str) -> None:
    with pytest.raises(BadInput) as info:
        rules_command(**fields)
    assert names in info.value.message
    assert info.value.code == "invalid_command"


def test_rule_12_rules_that_contradict_each_other_are_named() -> None:
    rules = VenueRules(min_duration_minutes=90, max_duration_minutes=60)
    assert rules.problems() == ["min_duration_minutes 90 is more than max_duration_minutes 60"]
    assert VenueRules(min_notice_minutes=3 * 1440, max_advance_days=2).problems()
    assert VenueRules(quotas=(Quota("bookings", 2, "day"), Quota("bookings", 3, "day"))).problems()


def test_rule_12_set_venue_rules_is_a_public_bus_command() -> None:
    command = c.parse_command(
        {
            "type": "SetVenueRules",
            "actor": ADMIN,
            "venue_id": "hall",
            "buffer_minutes": 10,
            "offer_mode": "all",
        }
    )
    assert isinstance(command, c.SetVenueRules)
    assert command.changes() == {"buffer_minutes": 10, "offer_mode": "all"}


def test_rule_12_a_booking_stored_before_rules_existed_loads_with_the_default_rules() -> None:
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from bookit.aggregates.base import Cause
    from bookit.aggregates.booking import Booking
    from bookit.config import Rules

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    cause = Cause(actor="ann@example.com", command_id=str(uuid4()), at=now)
    booking = Booking.book(
        uuid4(),
        venue_id="hall",
        user="ann@example.com",
        date="2026-12-05",
        start="10:00",
        end="11:00",
        starts_at=now + timedelta(days=4),
        ends_at=now + timedelta(days=4, hours=1),
        purpose="",
        rules=Rules(),
        cause=cause,
        venue_rules=VenueRules(buffer_minutes=10),
    )
    booked = booking.collect_events()[0]
    assert booked.rules["buffer_minutes"] == 10  # type: ignore[attr-defined]
    del booked.__dict__["rules"]  # as an event stored by an earlier version reads back
    old = booked.mutate(None)
    assert isinstance(old, Booking) and old.rules == VenueRules()
