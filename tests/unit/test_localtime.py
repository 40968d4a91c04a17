"""Rule 3: wall-clock times in the venue's zone become UTC instants; DST gaps and overlaps are
refused, never silently resolved."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bookit.errors import BadInput
from bookit.localtime import parse_date, parse_instant, parse_time, to_utc, zone


def code(call: object, *args: object) -> str:
    with pytest.raises(BadInput) as info:
        call(*args)  # type: ignore[operator]
    return info.value.code


@pytest.mark.parametrize(
    ("day", "wall", "tz", "utc"),
    [
        (date(2027, 1, 15), time(10, 0), "Europe/London", datetime(2027, 1, 15, 10, 0, tzinfo=UTC)),
        (date(2027, 7, 15), time(10, 0), "Europe/London", datetime(2027, 7, 15, 9, 0, tzinfo=UTC)),
        (date(2027, 3, 29), time(10, 0), "Europe/London", datetime(2027, 3, 29, 9, 0, tzinfo=UTC)),
        (date(2027, 1, 15), time(0, 30), "Pacific/Auckland", datetime(2027, 1, 14, 11, 30, tzinfo=UTC)),
        (date(2027, 1, 15), time(23, 0), "America/New_York", datetime(2027, 1, 16, 4, 0, tzinfo=UTC)),
        (date(2027, 1, 15), time(9, 0), "Asia/Kolkata", datetime(2027, 1, 15, 3, 30, tzinfo=UTC)),
    ],
    ids=["london-winter", "london-summer", "after-spring-change", "auckland", "new-york-late", "kolkata"],
)
def test_wall_time_becomes_the_right_utc_instant(day: date, wall: time, tz: str, utc: datetime) -> None:
    assert to_utc(day, wall, tz) == utc


def test_time_skipped_by_the_spring_change_is_refused() -> None:
    assert code(to_utc, date(2027, 3, 28), time(1, 30), "Europe/London") == "nonexistent_local_time"


def test_time_repeated_by_the_autumn_change_is_refused() -> None:
    assert code(to_utc, date(2026, 10, 25), time(1, 30), "Europe/London") == "ambiguous_local_time"


def test_times_either_side_of_the_change_are_fine() -> None:
    assert to_utc(date(2027, 3, 28), time(2, 0), "Europe/London") == datetime(2027, 3, 28, 1, tzinfo=UTC)
    assert to_utc(date(2026, 10, 25), time(2, 0), "Europe/London") == datetime(2026, 10, 25, 2, tzinfo=UTC)


def test_dst_message_says_what_happened() -> None:
    with pytest.raises(BadInput) as gap:
        to_utc(date(2027, 3, 28), time(1, 30), "Europe/London")
    with pytest.raises(BadInput) as overlap:
        to_utc(date(2026, 10, 25), time(1, 30), "Europe/London")
    assert "does not exist" in gap.value.message
    assert "happens twice" in overlap.value.message


def test_unknown_zone_is_refused() -> None:
    assert code(zone, "Europe/Atlantis") == "bad_tz"
    assert code(zone, "../../etc/passwd") == "bad_tz"


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "2026-1-01", "26-01-01", "tomorrow", ""])
def test_malformed_dates_are_refused(text: str) -> None:
    assert code(parse_date, text) == "bad_date"


@pytest.mark.parametrize("text", ["24:00", "9:00", "09:60", "0900", "09:00:00", "noon"])
def test_malformed_times_are_refused(text: str) -> None:
    assert code(parse_time, text) == "bad_time"


def test_instants_need_an_offset_and_are_normalised_to_utc() -> None:
    assert parse_instant("2026-12-01T10:00:00+01:00") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert parse_instant("2026-12-01T09:00:00Z").tzinfo == UTC
    assert code(parse_instant, "2026-12-01T09:00:00") == "bad_now"
    assert code(parse_instant, "yesterday") == "bad_now"
