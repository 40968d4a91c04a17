"""VenueDay: no two live bookings of a venue overlap, and a held slot is kept for the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookit.aggregates.base import Cause
from bookit.aggregates.venue_day import Interval, VenueDay
from bookit.errors import Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = datetime(2026, 12, 5, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def cause(actor: str = "a@example.com") -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=NOW)


def day_with(*intervals: tuple[int, int]) -> VenueDay:
    day = VenueDay.open("hall", "2026-12-05", cause())
    for start, end in intervals:
        day.take(uuid4(), "a@example.com", at(start), at(end), cause())
    return day


def code_of_take(day: VenueDay, start: datetime, end: datetime, **kw: str) -> str:
    with pytest.raises(Refused) as info:
        day.take(uuid4(), "b@example.com", start, end, cause("b@example.com"), **kw)
    return info.value.code


@pytest.mark.parametrize(
    ("start", "end"),
    [(at(10), at(12)), (at(9), at(11)), (at(11), at(13)), (at(10, 30), at(11)), (at(9), at(13))],
    ids=["same", "overlaps-start", "overlaps-end", "inside", "around"],
)
def test_overlapping_booking_is_refused_as_slot_taken(start: datetime, end: datetime) -> None:
    day = day_with((10, 12))
    assert code_of_take(day, start, end) == "slot_taken"
    assert len(day.taken) == 1


def test_back_to_back_bookings_do_not_overlap() -> None:
    day = day_with((10, 12))
    day.take(uuid4(), "b@example.com", at(12), at(13), cause())
    day.take(uuid4(), "c@example.com", at(9), at(10), cause())
    assert len(day.taken) == 3


def test_released_interval_can_be_booked_again() -> None:
    day = VenueDay.open("hall", "2026-12-05", cause())
    first = uuid4()
    day.take(first, "a@example.com", at(10), at(12), cause())
    assert day.release(first, cause()) == Interval(at(10), at(12))
    day.take(uuid4(), "b@example.com", at(10), at(12), cause())
    assert day.release(first, cause()) is None


def test_booking_into_a_held_slot_is_refused_as_slot_held() -> None:
    day = day_with()
    day.hold("entry-1", Interval(at(10), at(12)), at(9), cause())
    assert code_of_take(day, at(11), at(12)) == "slot_held"


def test_the_offered_entry_claims_its_own_hold() -> None:
    day = day_with()
    day.hold("entry-1", Interval(at(10), at(12)), at(9), cause())
    day.collect_events()
    day.take(uuid4(), "b@example.com", at(10), at(12), cause(), claiming_entry="entry-1")
    assert day.holds == {}
    assert [type(e).__name__ for e in day.collect_events()] == ["HoldLifted", "IntervalTaken"]


def test_another_entry_cannot_claim_someone_elses_hold() -> None:
    day = day_with()
    day.hold("entry-1", Interval(at(10), at(12)), at(9), cause())
    assert code_of_take(day, at(10), at(12), claiming_entry="entry-2") == "slot_held"


def test_a_taken_slot_cannot_be_held() -> None:
    day = day_with((10, 12))
    with pytest.raises(Refused) as info:
        day.hold("entry-1", Interval(at(10), at(12)), at(9), cause())
    assert info.value.code == "slot_taken"


def test_lifted_hold_frees_the_slot() -> None:
    day = day_with()
    day.hold("entry-1", Interval(at(10), at(12)), at(9), cause())
    assert day.lift_hold("entry-1", cause()) == Interval(at(10), at(12))
    assert day.is_free(at(10), at(12))
    assert day.lift_hold("entry-1", cause()) is None


def test_queues_touching_freed_time_are_listed_earliest_first() -> None:
    day = day_with()
    later, earlier, elsewhere = uuid4(), uuid4(), uuid4()
    day.note_queue(later, Interval(at(11), at(12)), cause())
    day.note_queue(earlier, Interval(at(10), at(11)), cause())
    day.note_queue(elsewhere, Interval(at(14), at(15)), cause())
    day.note_queue(earlier, Interval(at(10), at(11)), cause())  # noted once
    assert len(day.queues) == 3
    assert day.queues_overlapping(Interval(at(10), at(12))) == [str(earlier), str(later)]


def test_booked_by_knows_whose_interval_it_is() -> None:
    day = day_with((10, 12))
    assert day.booked_by("a@example.com", at(11), at(12))
    assert not day.booked_by("b@example.com", at(11), at(12))
