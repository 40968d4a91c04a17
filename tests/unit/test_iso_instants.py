"""`iso`, the text every instant in the read models and on the bus is written as: UTC, to the
second, with a Z, whatever zone and fraction of a second the instant came with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
