"""Offer policies as pure values (DESIGN rules 6, 15, 16): the claim window by lead time, quiet
hours in the venue's zone (across midnight and both DST changes) and the offer modes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bookit.aggregates.offer_policy import (
    DEFAULT_WINDOW_TABLE,
    OfferMode,
    OfferPolicy,
    QuietHours,
    parse_window_table,
    window_for_lead,
)
from bookit.config import Rules
from bookit.errors import BadInput

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
AUTO = OfferPolicy(window=None)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Claim window by lead time (auto)


@pytest.mark.parametrize(
    ("lead", "window"),
    [
        (timedelta(days=20), timedelta(hours=24)),
        (timedelta(days=14), timedelta(hours=24)),
        (timedelta(days=14) - timedelta(seconds=1), timedelta(hours=8)),
        (timedelta(days=2), timedelta(hours=8)),
        (timedelta(days=1, hours=5), timedelta(hours=3)),
        (timedelta(hours=6), timedelta(hours=1)),
        (timedelta(hours=3), timedelta(minutes=30)),
        (timedelta(hours=1), timedelta(minutes=15)),
    ],
)
def test_auto_window_grows_with_the_time_left(lead: timedelta, window: timedelta) -> None:
    assert window_for_lead(DEFAULT_WINDOW_TABLE, lead) == window
    assert AUTO.plan(NOW, NOW + lead).deadline == min(NOW + window, NOW + lead - timedelta(minutes=30))


def test_auto_window_never_reaches_past_start_minus_the_usable_time() -> None:
    # A table granting 2 h to any lead: 3 h ahead the slot must stay usable for 30 min, so the
    # offer ends 2 h 30 min after it was made ...
    generous = OfferPolicy(window=None, table=((timedelta(0), timedelta(hours=2)),))
    assert generous.plan(NOW, NOW + timedelta(hours=3)).deadline == NOW + timedelta(hours=2)
    assert generous.plan(NOW, NOW + timedelta(hours=2)).deadline == NOW + timedelta(hours=1, minutes=30)
    # ... but the cap never cuts a window below the 15-minute minimum: 40 min ahead it is
    # 15 min (ending 25 min before the start), and 10 min ahead it ends at the start, as today.
    assert generous.plan(NOW, NOW + timedelta(minutes=40)).deadline == NOW + timedelta(minutes=15)
    assert generous.plan(NOW, NOW + timedelta(minutes=10)).deadline == NOW + timedelta(minutes=10)


def test_auto_window_is_exact_to_the_second() -> None:
    now = NOW + timedelta(seconds=17, microseconds=250)
    plan = AUTO.plan(now, now + timedelta(days=3))
    assert plan.deadline - now == timedelta(hours=8)
    assert plan.opens_at == now


def test_a_fixed_window_is_todays_rule_capped_at_the_start() -> None:
    fixed = OfferPolicy(window=timedelta(minutes=15))
    assert fixed.plan(NOW, NOW + timedelta(days=3)).deadline == NOW + timedelta(minutes=15)
    assert fixed.plan(NOW, NOW + timedelta(minutes=5)).deadline == NOW + timedelta(minutes=5)


def test_window_table_from_configuration() -> None:
    table = parse_window_table("0:10, 1440:120")
    assert table == ((timedelta(days=1), timedelta(hours=2)), (timedelta(0), timedelta(minutes=10)))
    with pytest.raises(BadInput):
        parse_window_table("1440-120")
    with pytest.raises(BadInput):
        parse_window_table("0:0")


def test_the_default_configuration_keeps_todays_offer() -> None:
    policy = Rules().offer_policy("Europe/London")
    assert policy.window == timedelta(minutes=15) and policy.quiet is None
    assert policy.mode == OfferMode("one", 1)
    assert policy.plan(NOW, NOW + timedelta(days=1)).deadline == NOW + timedelta(minutes=15)


def test_venue_rules_win_over_the_configured_defaults() -> None:
    rules = Rules(quiet_hours="22:00-07:00", offer_mode="all")
    policy = rules.offer_policy("UTC", offer_window="auto", quiet_hours="", offer_mode="batch:2")
    assert policy.window is None and policy.quiet is None and str(policy.mode) == "batch:2"
    assert str(rules.offer_policy("UTC").quiet) == "22:00-07:00"
    assert Rules.from_env({"BOOKIT_OFFER_MINUTES": "auto"}).offer_policy("UTC").window is None


# Quiet hours (rule 16)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.contains(time(23, 30)) and quiet.contains(time(3, 0)) and quiet.contains(time(22, 0))
    assert not quiet.contains(time(8, 0)) and not quiet.contains(time(12, 0))
    # London in summer is UTC+1: 23:30 local on 1 June is 22:30 UTC; quiet ends 08:00 on 2 June.
    assert quiet.end_after(utc("2027-06-01T23:30:00+01:00"), "Europe/London") == utc(
        "2027-06-02T08:00:00+01:00"
    )
    # After midnight it ends the same morning.
    assert quiet.end_after(utc("2027-06-02T03:00:00+01:00"), "Europe/London") == utc(
        "2027-06-02T08:00:00+01:00"
    )
    assert quiet.end_after(utc("2027-06-02T08:00:00+01:00"), "Europe/London") is None


def test_quiet_hours_within_one_day() -> None:
    quiet = QuietHours.parse("12:00-14:00")
    assert quiet.end_after(utc("2027-06-01T13:00:00+00:00"), "UTC") == utc("2027-06-01T14:00:00+00:00")
    assert quiet.end_after(utc("2027-06-01T11:59:59+00:00"), "UTC") is None


def test_quiet_hours_over_the_spring_dst_change() -> None:
    # Europe/Berlin, 28 March 2027: 02:00 jumps to 03:00. Quiet hours 22:00-02:30 end at the
    # jump (02:30 never happens), which is 01:00 UTC.
    quiet = QuietHours.parse("22:00-02:30")
    ends = quiet.end_after(utc("2027-03-27T23:00:00+01:00"), "Europe/Berlin")
    assert ends == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    # Quiet 22:00-08:00 that night lasts an hour less in UTC terms: 21:00 UTC to 06:00 UTC.
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.end_after(utc("2027-03-27T22:30:00+01:00"), "Europe/Berlin") == datetime(
        2027, 3, 28, 6, 0, tzinfo=UTC
    )


def test_quiet_hours_over_the_autumn_dst_change() -> None:
    # Europe/Berlin, 31 October 2027: 03:00 falls back to 02:00; 02:30 happens twice. Quiet
    # hours ending 02:30 end at its first occurrence (00:30 UTC); at 02:45 the second time
    # round (01:45 UTC), the wall clock is past 02:30: not quiet.
    quiet = QuietHours.parse("22:00-02:30")
    assert quiet.end_after(utc("2027-10-30T23:00:00+02:00"), "Europe/Berlin") == datetime(
        2027, 10, 31, 0, 30, tzinfo=UTC
    )
    assert quiet.end_after(datetime(2027, 10, 31, 1, 45, tzinfo=UTC), "Europe/Berlin") is None
    # 22:00-08:00 that night is an hour longer: 08:00 CET is 07:00 UTC.
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet.end_after(utc("2027-10-30T23:00:00+02:00"), "Europe/Berlin") == datetime(
        2027, 10, 31, 7, 0, tzinfo=UTC
    )


def test_an_offer_in_quiet_hours_opens_when_they_end_with_its_full_window() -> None:
    policy = OfferPolicy(tz="Europe/London", window=None, quiet=QuietHours.parse("22:00-08:00"))
    made = utc("2027-06-02T03:00:00+01:00")
    starts = utc("2027-06-03T10:00:00+01:00")  # 1 day 2 hours after the quiet hours end
    plan = policy.plan(made, starts)
    assert plan.opens_at == utc("2027-06-02T08:00:00+01:00")
    assert plan.deadline == plan.opens_at + timedelta(hours=3)  # lead at opening: 1 day 2 h


def test_an_offer_in_quiet_hours_goes_out_at_once_if_waiting_leaves_too_little() -> None:
    policy = OfferPolicy(tz="UTC", window=timedelta(minutes=15), quiet=QuietHours.parse("22:00-08:00"))
    made = utc("2027-06-02T07:00:00+00:00")
    # The slot starts 08:10: waiting until 08:00 leaves 10 minutes, under the 15-minute minimum.
    plan = policy.plan(made, utc("2027-06-02T08:10:00+00:00"))
    assert plan.opens_at == made and plan.deadline == made + timedelta(minutes=15)
    # Starting 08:15 leaves exactly the minimum: it waits.
    plan = policy.plan(made, utc("2027-06-02T08:15:00+00:00"))
    assert plan.opens_at == utc("2027-06-02T08:00:00+00:00")
    assert plan.deadline == utc("2027-06-02T08:15:00+00:00")


def test_bad_quiet_hours_are_refused_clearly() -> None:
    for text in ("22-08", "22:00", "22:00-22:00", "25:00-08:00"):
        with pytest.raises(BadInput) as info:
            QuietHours.parse(text)
        assert "quiet hours" in info.value.message


# Offer modes (rule 15)


def test_offer_modes() -> None:
    assert OfferMode.parse("one").how_many(5) == 1
    assert OfferMode.parse("batch:3").how_many(5) == 3
    assert OfferMode.parse("batch:3").how_many(2) == 2
    assert OfferMode.parse("all").how_many(7) == 7
    assert str(OfferMode.parse("BATCH:4")) == "batch:4"
    for text in ("batch:0", "batch:", "some", "batch:x"):
        with pytest.raises(BadInput):
            OfferMode.parse(text)
