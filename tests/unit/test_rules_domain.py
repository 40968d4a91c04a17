"""The venue rules as the aggregates enforce them (DESIGN rules 13 and 14), one rule per test:
booking windows and durations on Booking, buffers on VenueDay, quotas on QuotaCounter, check-in
and no-shows on Booking, strikes on StrikeRecord, and queues that stay open for no-show time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.booking import NO_SHOW, Booking
from bookit.aggregates.quota import QuotaCounter, period_key
from bookit.aggregates.strikes import StrikeRecord, suspension_end
from bookit.aggregates.venue_day import Interval, VenueDay
from bookit.aggregates.venue_rules import Quota, VenueRules
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.config import Rules
from bookit.errors import Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
ANN, BOB = "ann@example.com", "bob@example.com"


def cause(actor: str = ANN, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def book(
    rules: VenueRules,
    at: datetime = NOW,
    starts_at: datetime = START,
    minutes: int = 60,
    entry: str | None = None,
) -> Booking:
    return Booking.book(
        uuid4(),
        venue_id="hall",
        user=ANN,
        date=f"{starts_at:%Y-%m-%d}",
        start=f"{starts_at:%H:%M}",
        end=f"{starts_at + timedelta(minutes=minutes):%H:%M}",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        purpose="",
        rules=Rules(),
        cause=cause(at=at),
        waitlist_entry_id=entry,
        venue_rules=rules,
    )


def code(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(Refused) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.code


# Booking windows and durations (rule 13)


@pytest.mark.parametrize(
    ("rules", "at", "minutes", "expected"),
    [
        (VenueRules(min_notice_minutes=120), START - timedelta(minutes=119), 60, "too_soon"),
        (VenueRules(max_advance_days=3), START - timedelta(days=3, seconds=1), 60, "too_far_ahead"),
        (VenueRules(min_duration_minutes=30), NOW, 29, "too_short"),
        (VenueRules(max_duration_minutes=90), NOW, 91, "too_long"),
    ],
    ids=["too_soon", "too_far_ahead", "too_short", "too_long"],
)
def test_rule_13_bookings_outside_the_window_or_durations_are_refused_by_name(
    rules: VenueRules, at: datetime, minutes: int, expected: str
) -> None:
    assert code(book, rules, at=at, minutes=minutes) == expected


def test_rule_13_bookings_on_the_limits_are_allowed() -> None:
    rules = VenueRules(
        min_notice_minutes=120, max_advance_days=3, min_duration_minutes=30, max_duration_minutes=90
    )
    book(rules, at=START - timedelta(minutes=120), minutes=30)
    book(rules, at=START - timedelta(days=3), minutes=90)


def test_rule_13_freed_time_claimed_from_a_queue_is_not_held_to_the_notice() -> None:
    booking = book(VenueRules(min_notice_minutes=600), at=START - timedelta(minutes=30), entry=str(uuid4()))
    assert booking.confirmed


def test_rule_13_the_refusal_says_the_limit() -> None:
    with pytest.raises(Refused) as info:
        book(VenueRules(max_duration_minutes=90), minutes=120)
    assert "at most 90 minutes" in info.value.message and "120" in info.value.message


# Buffers (rule 13)


def at(hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute)


def day_with_booking(buffer: int) -> VenueDay:
    day = VenueDay.open("hall", "2026-12-05", cause())
    day.take(uuid4(), ANN, at(10), at(11), cause(), buffer=buffer)
    return day


@pytest.mark.parametrize(("start", "end"), [(at(11), at(12)), (at(11, 14), at(12)), (at(9), at(9, 46))])
def test_rule_13_a_booking_inside_another_ones_buffer_is_refused(start: datetime, end: datetime) -> None:
    day = day_with_booking(buffer=15)
    assert code(day.take, uuid4(), BOB, start, end, cause(BOB)) == "buffer_conflict"
    assert len(day.taken) == 1


def test_rule_13_a_booking_just_outside_the_buffer_is_taken() -> None:
    day = day_with_booking(buffer=15)
    day.take(uuid4(), BOB, at(11, 15), at(12), cause(BOB))
    day.take(uuid4(), BOB, at(9), at(9, 45), cause(BOB))
    assert len(day.taken) == 3


def test_rule_13_the_larger_of_two_buffers_applies() -> None:
    day = day_with_booking(buffer=0)  # booked before the venue had a buffer
    assert code(day.take, uuid4(), BOB, at(11, 10), at(12), cause(BOB), buffer=15) == "buffer_conflict"
    day.take(uuid4(), BOB, at(11, 15), at(12), cause(BOB), buffer=15)


def test_rule_13_an_admin_may_book_over_a_buffer_but_never_over_a_booking() -> None:
    day = day_with_booking(buffer=30)
    day.take(uuid4(), BOB, at(11), at(12), cause(BOB), buffer=30, over_buffers=True)
    assert code(day.take, uuid4(), BOB, at(10, 30), at(11), cause(BOB), over_buffers=True) == "slot_taken"


def test_rule_13_releasing_a_booking_frees_its_buffer_too() -> None:
    day = VenueDay.open("hall", "2026-12-05", cause())
    first = uuid4()
    day.take(first, ANN, at(10), at(11), cause(), buffer=15)
    assert day.release(first, cause()) == Interval(at(9, 45), at(11, 15))
    day.take(uuid4(), BOB, at(11), at(12), cause(BOB))


def test_rule_13_a_hold_keeps_its_buffer_and_its_claim_books_under_it() -> None:
    day = VenueDay.open("hall", "2026-12-05", cause())
    day.hold("entry-1", Interval(at(10), at(11)), at(9), cause(SYSTEM), buffer=20)
    assert code(day.take, uuid4(), BOB, at(11, 10), at(12), cause(BOB)) == "buffer_conflict"
    day.take(uuid4(), ANN, at(10), at(11), cause(), claiming_entry="entry-1")
    assert next(iter(day.taken.values())).buffer == 20


# Quotas (rule 13)


def counter(period: str = "week") -> QuotaCounter:
    return QuotaCounter.open(ANN, "hall", period, "2026-12-05", cause())


def test_rule_13_periods_are_the_local_day_iso_week_and_month() -> None:
    assert period_key("day", "2026-12-05") == "2026-12-05"
    assert period_key("week", "2026-12-05") == "2026-W49"
    assert period_key("week", "2027-01-01") == "2026-W53"
    assert period_key("month", "2026-12-05") == "2026-12"
    assert QuotaCounter.id_for(ANN, "hall", "week", "2026-11-30") == QuotaCounter.id_for(
        ANN, "hall", "week", "2026-12-06"
    )


def test_rule_13_a_bookings_quota_refuses_the_one_too_many() -> None:
    quotas = [Quota("bookings", 2, "week")]
    week = counter()
    week.count(uuid4(), 60, quotas, cause())
    week.count(uuid4(), 60, quotas, cause())
    assert code(week.count, uuid4(), 60, quotas, cause()) == "quota_exceeded"


def test_rule_13_an_hours_quota_counts_minutes_and_the_strictest_quota_wins() -> None:
    quotas = [Quota("bookings", 5, "week"), Quota("hours", 2, "week")]
    week = counter()
    week.count(uuid4(), 90, quotas, cause())
    with pytest.raises(Refused) as info:
        week.count(uuid4(), 45, quotas, cause())  # 2 bookings of 5, but 2 h 15 of 2 h
    assert info.value.code == "quota_exceeded" and "2 hours per week" in info.value.message
    week.count(uuid4(), 30, quotas, cause())


def test_rule_13_a_cancelled_booking_stops_counting() -> None:
    quotas = [Quota("bookings", 1, "day")]
    day = counter("day")
    first = uuid4()
    day.count(first, 60, quotas, cause())
    assert day.uncount(first, cause())
    day.count(uuid4(), 60, quotas, cause())
    assert not day.uncount(uuid4(), cause())  # never counted: nothing to do


# Check-in and no-shows (rule 14)


CHECK_IN = VenueRules(check_in_minutes=15)


def test_rule_14_check_in_is_open_from_the_start_until_the_check_in_minutes_after_it() -> None:
    booking = book(CHECK_IN)
    assert booking.check_in_until == START + timedelta(minutes=15)
    assert code(booking.check_in, cause(at=START - timedelta(seconds=1))) == "check_in_not_open"
    assert code(booking.check_in, cause(at=START + timedelta(minutes=15))) == "check_in_closed"
    assert code(booking.check_in, cause(BOB, START)) == "not_owner"
    assert booking.check_in(cause(at=START + timedelta(minutes=14, seconds=59)))
    assert not booking.check_in(cause(at=START + timedelta(minutes=14, seconds=59)))  # once


def test_rule_14_a_booking_nobody_checked_in_to_is_released_after_the_deadline_only() -> None:
    booking = book(CHECK_IN)
    assert (
        code(booking.release_as_no_show, Rules(), cause(SYSTEM, START + timedelta(minutes=14))) == "not_due"
    )
    assert booking.release_as_no_show(Rules(), cause(SYSTEM, START + timedelta(minutes=15)))
    assert booking.status == NO_SHOW and not booking.is_live


def test_rule_24_a_release_decided_within_the_grace_after_check_in_closed_is_a_strike() -> None:
    booking = book(CHECK_IN)
    grace = Rules().reminder_grace  # BOOKIT_REMINDER_GRACE_MINUTES, 60 by default
    assert booking.release_as_no_show(Rules(), cause(SYSTEM, booking.check_in_until + grace))
    assert booking.no_show_strikes and booking.no_strike == ""


def test_rule_24_a_release_decided_after_the_grace_frees_the_time_but_is_no_strike_and_says_why() -> None:
    booking = book(CHECK_IN)  # check-in closed 10:15 UTC
    late = booking.check_in_until + Rules().reminder_grace + timedelta(minutes=1)
    assert booking.release_as_no_show(Rules(), cause(SYSTEM, late))
    assert booking.status == NO_SHOW and not booking.is_live  # the time is freed all the same
    assert not booking.no_show_strikes
    [event] = booking.collect_events()[-1:]
    assert isinstance(event, Booking.NoShow)
    assert event.no_strike == (
        "decided at 2026-12-05 11:16 UTC, 61 min after check-in closed (more than the 60 min grace):"
        " BookIT was not running then, so checking in may not have been possible"
    )
    # The grace is configuration, not a constant: a longer one makes the same release a strike.
    other = book(CHECK_IN)
    assert other.release_as_no_show(Rules(reminder_grace=timedelta(hours=2)), cause(SYSTEM, late))
    assert other.no_show_strikes


def test_rule_24_a_stored_no_show_from_before_rule_24_reads_as_the_strike_it_was() -> None:
    state: dict[str, object] = {"reason": "nobody checked in by 2026-12-03 14:15 UTC"}
    Booking.NoShow.upcast_v1_v2(state)
    assert state["no_strike"] == ""


def test_rule_14_a_checked_in_booking_is_never_released() -> None:
    booking = book(CHECK_IN)
    booking.check_in(cause(at=START + timedelta(minutes=1)))
    assert not booking.release_as_no_show(Rules(), cause(SYSTEM, START + timedelta(minutes=30)))
    assert booking.is_live


def test_rule_14_check_in_ends_with_the_booking_and_is_not_asked_of_a_claim_after_the_start() -> None:
    assert book(VenueRules(check_in_minutes=90), minutes=60).check_in_until == START + timedelta(minutes=60)
    late_claim = book(CHECK_IN, at=START + timedelta(minutes=20), starts_at=START, entry=str(uuid4()))
    assert late_claim.check_in_until is None
    assert book(VenueRules()).check_in_until is None  # no rule, no check-in


def test_rule_14_check_in_opening_is_owed_once_and_not_to_someone_already_in() -> None:
    booking = book(CHECK_IN)
    assert code(booking.open_check_in, cause(SYSTEM, START - timedelta(seconds=1))) == "not_due"
    assert booking.open_check_in(cause(SYSTEM, START))
    assert not booking.open_check_in(cause(SYSTEM, START))
    other = book(CHECK_IN)
    other.check_in(cause(at=START))
    assert not other.open_check_in(cause(SYSTEM, START + timedelta(seconds=1)))


def test_rule_14_a_queue_at_a_check_in_venue_stays_open_and_offers_end_before_the_slot() -> None:
    closes = START + timedelta(minutes=45)
    slot = WaitlistSlot.open(
        "hall", "2026-12-05", "10:00", "11:00", START, START + timedelta(hours=1), cause(), closes
    )
    slot.join(uuid4(), BOB, 0, cause(BOB))
    entry = slot.offer_next(timedelta(minutes=15), cause(SYSTEM, START + timedelta(minutes=40)))
    assert entry is not None and entry.deadline == closes  # not now + 15 min: past the closing
    assert code(slot.close, cause(SYSTEM, closes - timedelta(seconds=1))) == "not_due"


def test_rule_06_without_check_in_a_queue_still_closes_at_the_start() -> None:
    slot = WaitlistSlot.open(
        "hall", "2026-12-05", "10:00", "11:00", START, START + timedelta(hours=1), cause()
    )
    slot.join(uuid4(), BOB, 0, cause(BOB))
    assert slot.offer_next(timedelta(minutes=15), cause(SYSTEM, START)) is None
    assert slot.close(cause(SYSTEM, START))


# Strikes (rule 14)


def strikes_at(*days: int, limit: int = 3, window: int = 30) -> StrikeRecord:
    record = StrikeRecord.open(ANN, "hall", cause())
    for day in days:
        record.strike(uuid4(), "no_show", cause(SYSTEM, NOW + timedelta(days=day)), limit, window)
    return record


def test_rule_14_n_strikes_within_d_days_suspend_until_enough_age_out() -> None:
    record = strikes_at(0, 10, 20)
    later = NOW + timedelta(days=21)
    assert record.suspended_until(later, 3, 30) == NOW + timedelta(days=30)
    assert code(record.refuse_if_suspended, later, 3, 30, "Europe/London") == "suspended"
    record.refuse_if_suspended(NOW + timedelta(days=30), 3, 30, "Europe/London")  # the first aged out


def test_rule_14_the_suspension_message_says_the_date_it_lifts_in_the_venue_zone() -> None:
    record = strikes_at(0, 1, 2)
    with pytest.raises(Refused) as info:
        record.refuse_if_suspended(NOW + timedelta(days=3), 3, 30, "America/New_York")
    assert "until 2026-12-31 04:00 (America/New_York)" in info.value.message


def test_rule_14_strikes_spread_wider_than_the_window_do_not_suspend() -> None:
    assert strikes_at(0, 20, 40).suspended_until(NOW + timedelta(days=41), 3, 30) is None


def test_rule_14_the_strike_that_suspends_records_one_suspension() -> None:
    record = strikes_at(0, 1)
    record.collect_events()
    assert record.strike(uuid4(), "late_cancel", cause(SYSTEM, NOW + timedelta(days=2)), 3, 30)
    assert [type(e).__name__ for e in record.collect_events()] == ["StrikeRecorded", "Suspended"]
    assert not record.strike(uuid4(), "no_show", cause(SYSTEM, NOW + timedelta(days=3)), 3, 30)


def test_rule_14_one_booking_is_one_strike_at_most() -> None:
    record = strikes_at()
    booking_id = uuid4()
    record.strike(booking_id, "no_show", cause(SYSTEM), 3, 30)
    record.strike(booking_id, "no_show", cause(SYSTEM), 3, 30)
    assert len(record.strikes) == 1


def test_rule_14_an_admin_waives_one_strike_or_clears_them_all() -> None:
    record = strikes_at(0, 1, 2)
    first = next(iter(record.strikes))
    assert code(record.waive, first, cause(BOB), actor_is_admin=False) == "not_admin"
    record.waive(first, cause(SYSTEM), actor_is_admin=True)
    assert record.suspended_until(NOW + timedelta(days=3), 3, 30) is None
    assert code(record.waive, first, cause(SYSTEM), actor_is_admin=True) == "no_strike"
    assert record.clear(cause(SYSTEM), actor_is_admin=True) == 2
    assert record.active(NOW + timedelta(days=3), 30) == []


def test_rule_14_suspension_end_is_when_fewer_than_n_strikes_remain() -> None:
    times = [NOW + timedelta(days=d) for d in (0, 5, 6, 7)]
    assert suspension_end(times, 3, 30) == NOW + timedelta(days=35)  # 0 and 5 must age out
    assert suspension_end(times, 5, 30) is None
    assert suspension_end(times, None, 30) is None
