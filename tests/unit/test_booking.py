"""Booking on its own: who may change it, when it stops changing, and when the clock may
cancel it. Aggregates are built directly with a Cause, so each test is about one rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.booking import AUTO_CANCELLED, BOOKED, CANCELLED, CONFIRMED, Booking
from bookit.config import Rules
from bookit.errors import Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
OWNER = "owner@example.com"
OTHER = "other@example.com"
RULES = Rules()


def cause(actor: str = OWNER, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def book(
    at: datetime = NOW,
    starts_at: datetime = START,
    rules: Rules = RULES,
    entry: str | None = None,
) -> Booking:
    return Booking.book(
        uuid4(),
        venue_id="hall",
        user=OWNER,
        date=f"{starts_at:%Y-%m-%d}",
        start=f"{starts_at:%H:%M}",
        end=f"{starts_at + timedelta(hours=2):%H:%M}",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        purpose="choir",
        rules=rules,
        cause=cause(at=at),
        waitlist_entry_id=entry,
    )


def kinds(booking: Booking) -> list[str]:
    return [type(e).__name__ for e in booking.collect_events()]


def refusal_code(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(Refused) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.code


def reminded_and_delivered(at: datetime) -> Booking:
    booking = book()
    booking.remind(cause(SYSTEM, START - timedelta(hours=24)))
    booking.note_reminder_delivered(at, cause(SYSTEM, at))
    booking.collect_events()
    return booking


# Deadlines


def test_booking_gets_utc_deadlines_24h_and_2h_before_start() -> None:
    booking = book()
    assert booking.status == BOOKED
    assert booking.reminder_due == START - timedelta(hours=24)
    assert booking.cancel_due == START - timedelta(hours=2)
    assert kinds(booking) == ["Booked"]


def test_lead_times_come_from_rules_not_constants() -> None:
    rules = Rules(reminder_lead=timedelta(hours=48), cancel_lead=timedelta(hours=6))
    booking = book(rules=rules)
    assert booking.reminder_due == START - timedelta(hours=48)
    assert booking.cancel_due == START - timedelta(hours=6)


# Rule 4: late bookings


def test_booking_less_than_24h_ahead_is_reminded_in_the_same_save() -> None:
    booking = book(at=START - timedelta(hours=10))
    assert kinds(booking) == ["Booked", "Reminded"]
    assert booking.reminder_due == START - timedelta(hours=10)
    assert booking.cancel_due == START - timedelta(hours=2)
    assert booking.needs_confirmation


def test_booking_less_than_2h_ahead_needs_no_confirmation_and_no_reminder() -> None:
    booking = book(at=START - timedelta(hours=1, minutes=59))
    assert booking.cancel_due is None
    assert booking.reminder_due is None
    assert kinds(booking) == ["Booked"]
    assert not booking.needs_confirmation
    later = cause(SYSTEM, START - timedelta(minutes=1))
    assert refusal_code(booking.auto_cancel, RULES, later) == "booking_confirmed"


def test_booking_claimed_from_waitlist_is_confirmed_by_the_claim() -> None:
    booking = book(entry=str(uuid4()))
    assert booking.confirmed
    assert booking.status == CONFIRMED
    assert booking.cancel_due is None
    assert not booking.needs_confirmation


def test_late_claimed_booking_is_not_reminded() -> None:
    booking = book(at=START - timedelta(hours=5), entry=str(uuid4()))
    assert kinds(booking) == ["Booked"]


# Only the owner confirms or cancels


def test_confirm_by_someone_else_is_refused() -> None:
    booking = book()
    assert refusal_code(booking.confirm, cause(OTHER)) == "not_owner"
    assert not booking.confirmed


def test_cancel_by_someone_else_is_refused() -> None:
    booking = book()
    assert refusal_code(booking.cancel, "", cause(OTHER)) == "not_owner"
    assert booking.is_live


def test_owner_confirms() -> None:
    booking = book()
    booking.collect_events()
    assert booking.confirm(cause())
    assert booking.status == CONFIRMED
    assert kinds(booking) == ["Confirmed"]


def test_confirming_twice_records_one_confirmation() -> None:
    booking = book()
    booking.confirm(cause())
    booking.collect_events()
    assert booking.confirm(cause()) is False
    assert kinds(booking) == []


# Nothing changes once cancelled or started


def test_confirming_a_cancelled_booking_is_refused() -> None:
    booking = book()
    booking.cancel("plans changed", cause())
    assert booking.status == CANCELLED
    assert refusal_code(booking.confirm, cause()) == "already_cancelled"


def test_cancelling_twice_is_refused() -> None:
    booking = book()
    booking.cancel("", cause())
    assert refusal_code(booking.cancel, "", cause()) == "already_cancelled"


def test_confirming_a_started_booking_is_refused() -> None:
    booking = book()
    assert refusal_code(booking.confirm, cause(at=START)) == "booking_started"


def test_cancelling_a_started_booking_is_refused() -> None:
    booking = book()
    assert refusal_code(booking.cancel, "", cause(at=START + timedelta(minutes=5))) == "booking_started"


def test_confirm_one_second_before_start_is_allowed() -> None:
    booking = book()
    assert booking.confirm(cause(at=START - timedelta(seconds=1)))


# Admin override


def test_waive_by_non_admin_is_refused() -> None:
    booking = book()
    code = refusal_code(booking.waive_auto_cancel, cause(OTHER), actor_is_admin=False)
    assert code == "not_admin"
    assert not booking.waived


def test_waive_by_admin_stops_auto_cancel() -> None:
    booking = book()
    assert booking.waive_auto_cancel(cause("admin@example.com"), actor_is_admin=True)
    at_deadline = cause(SYSTEM, START - timedelta(hours=2))
    assert refusal_code(booking.auto_cancel, RULES, at_deadline) == "booking_confirmed"
    assert booking.is_live


# Auto-cancellation (rule 5)


def test_auto_cancel_of_a_confirmed_booking_is_refused() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=24))
    booking.confirm(cause())
    at_deadline = cause(SYSTEM, START - timedelta(hours=2))
    assert refusal_code(booking.auto_cancel, RULES, at_deadline) == "booking_confirmed"
    assert booking.status == CONFIRMED


def test_auto_cancel_before_the_deadline_is_refused() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=24))
    early = cause(SYSTEM, START - timedelta(hours=2, seconds=1))
    assert refusal_code(booking.auto_cancel, RULES, early) == "not_due"
    assert booking.is_live


def test_auto_cancel_of_a_cancelled_booking_is_refused() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=24))
    booking.cancel("", cause())
    at_deadline = cause(SYSTEM, START - timedelta(hours=2))
    assert refusal_code(booking.auto_cancel, RULES, at_deadline) == "already_cancelled"


def test_auto_cancel_when_reminder_was_delivered_in_time() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=24))
    assert booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=2)))
    assert booking.status == AUTO_CANCELLED
    events = booking.collect_events()
    assert [type(e).__name__ for e in events] == ["AutoCancelled"]
    assert "not confirmed by" in events[0].reason


def test_auto_cancel_when_reminder_delivered_exactly_at_the_grace_limit() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=3))
    assert booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=2)))


def test_undelivered_reminder_means_no_auto_cancel_and_a_logged_reason() -> None:
    booking = book()
    booking.remind(cause(SYSTEM, START - timedelta(hours=24)))
    booking.collect_events()
    assert booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=2))) is False
    assert booking.is_live
    events = booking.collect_events()
    assert [type(e).__name__ for e in events] == ["AutoCancelSkipped"]
    assert "never delivered" in events[0].reason


def test_reminder_delivered_inside_the_grace_period_means_no_auto_cancel() -> None:
    booking = reminded_and_delivered(START - timedelta(hours=2, minutes=59))
    assert booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=2))) is False
    events = booking.collect_events()
    assert [type(e).__name__ for e in events] == ["AutoCancelSkipped"]
    assert "1 min later" in events[0].reason


def test_skipped_auto_cancel_is_logged_once() -> None:
    booking = book()
    booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=2)))
    booking.collect_events()
    assert booking.auto_cancel(RULES, cause(SYSTEM, START - timedelta(hours=1))) is False
    assert kinds(booking) == []


# Reminders


def test_reminding_twice_records_one_reminder() -> None:
    booking = book()
    booking.collect_events()
    assert booking.remind(cause(SYSTEM, START - timedelta(hours=24)))
    assert booking.remind(cause(SYSTEM, START - timedelta(hours=23))) is False
    assert kinds(booking) == ["Reminded"]


def test_cancelled_booking_is_not_reminded() -> None:
    booking = book()
    booking.cancel("", cause())
    booking.collect_events()
    assert booking.remind(cause(SYSTEM, START - timedelta(hours=24))) is False
    assert kinds(booking) == []


def test_delivery_is_noted_once_and_only_after_a_reminder() -> None:
    booking = book()
    assert booking.note_reminder_delivered(NOW, cause(SYSTEM)) is False
    booking.remind(cause(SYSTEM, START - timedelta(hours=24)))
    first = START - timedelta(hours=24)
    assert booking.note_reminder_delivered(first, cause(SYSTEM, first))
    assert booking.note_reminder_delivered(first + timedelta(hours=1), cause(SYSTEM)) is False
    assert booking.reminder_delivered_at == first
