"""`iso`, the text every instant in the read models and on the bus is written as: UTC, to the
second, with a Z, whatever zone and fraction of a second the instant came with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bookit.localtime import from_iso, iso

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC) | offsets
)


@given(instants)
def test_iso_is_the_utc_second_of_the_instant(value: datetime) -> None:
    expected = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    assert iso(value) == expected
    assert from_iso(expected) == value.astimezone(UTC).replace(microsecond=0)


def test_iso_examples() -> None:
    assert iso(datetime(2026, 12, 1, 9, 0, 59, 999_999, tzinfo=UTC)) == "2026-12-01T09:00:59Z"
    assert iso(datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))) == "2026-03-28T23:30:00Z"
    assert iso(None) is None


def test_iso_tells_apart_the_two_instants_of_a_wall_time_that_happens_twice() -> None:
    """Europe/London falls back at 02:00 BST on 25 October 2026: 01:30 happens twice, and the two
    datetimes compare equal within the zone though they are an hour apart."""
    london = ZoneInfo("Europe/London")
    first = datetime(2026, 10, 25, 1, 30, tzinfo=london, fold=0)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=london, fold=1)
    assert (iso(first), iso(second)) == ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")
    assert (iso(first), iso(second)) == ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")


def test_iso_of_many_instants_stays_right_past_what_it_remembers() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for round_ in range(2):
        for n in range(0, 10_000, 7):
            value = start + timedelta(seconds=n, microseconds=round_)
            assert iso(value) == value.strftime("%Y-%m-%dT%H:%M:%SZ")
