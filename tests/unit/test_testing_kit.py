"""bookit.testing's own pieces: the clock, the awkward instants its strategies aim at, and a
story played twice telling the same thing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from bookit.localtime import parse_date, parse_time, to_utc
from bookit.testing import FakeClock, scratch_service
from bookit.testing import strategies as bst


def test_the_fake_clock_moves_only_when_told_and_keeps_utc() -> None:
    clock = FakeClock()
    assert clock() == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert clock.advance(minutes=90) == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    clock.set(datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert clock.now == datetime(2026, 12, 2, 3, 0, tzinfo=UTC) and clock.now.tzinfo is UTC
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 12, 2, 12, 0))


def test_dst_changes_are_found_to_the_minute() -> None:
    assert bst.dst_changes("Europe/London", 2026) == (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    )
    lord_howe = bst.dst_changes("Australia/Lord_Howe", 2026)  # a half-hour change
    assert len(lord_howe) == 2
    zone = ZoneInfo("Australia/Lord_Howe")
    offsets = {(d - timedelta(minutes=1)).astimezone(zone).utcoffset() for d in lord_howe}
    assert offsets == {timedelta(hours=10, minutes=30), timedelta(hours=11)}
    assert bst.dst_changes("Asia/Tokyo", 2026) == ()


def test_jumps_land_around_local_midnight_and_the_next_dst_change() -> None:
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    midnight = bst.Jump("midnight", 0).after(now, "America/New_York")
    assert midnight.astimezone(ZoneInfo("America/New_York")).strftime("%d %H:%M") == "25 00:00"
    # seconds either side of the change: half a minute before the clocks go back
    assert bst.Jump("dst", -30).after(now, "Europe/London") == datetime(2026, 10, 25, 0, 59, 30, tzinfo=UTC)
    assert bst.Jump("minutes", 5).after(now, "UTC") == now + timedelta(minutes=5)
    assert bst.Jump("midnight", -90 * 60 * 24).after(now, "UTC") == now  # never backwards


@settings(max_examples=200, deadline=None)
@given(venue=bst.venues(), data=bst.st.data())
def test_slots_are_wall_times_that_exist_once_in_the_venues_zone(
    venue: bst.VenueSpec, data: bst.st.DataObject
) -> None:
    slot = data.draw(bst.slots(venue))
    day = parse_date(slot.date)
    assert to_utc(day, parse_time(slot.start), venue.tz) < to_utc(day, parse_time(slot.end), venue.tz)


@settings(max_examples=5, deadline=None)
@given(story=bst.stories(bst.HALL, max_steps=12))
def test_the_same_story_tells_the_same_thing(
    tmp_path_factory: pytest.TempPathFactory, story: list[bst.Step]
) -> None:
    said = []
    for _ in range(2):
        clock = FakeClock()
        service = scratch_service(Path(tmp_path_factory.mktemp("story")), clock=clock)
        outcomes = bst.play(service, clock, bst.HALL, story)
        said.append([o if isinstance(o, dict | None) else (type(o).__name__, o.code) for o in outcomes])
        service.close()
    assert said[0] == said[1]
