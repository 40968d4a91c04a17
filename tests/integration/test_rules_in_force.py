"""Venue rules through the whole chain (DESIGN rules 13 and 14): commands on the local bus, the
event store, the read models, the due timers and the Maildir outbox."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from bookit import commands as c
from bookit.aggregates.quota import QuotaCounter
from bookit.errors import Refused
from bookit.projections import queries

ADMIN, ANN, BOB, CAT = "admin@example.com", "ann@example.com", "bob@example.com", "cat@example.com"
DAY = "2026-12-05"


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{DAY}T{text}:00").replace(tzinfo=UTC)  # London = UTC in December


@pytest.fixture
def hall(driver: Any) -> str:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    return str(driver.venue())


def rules(driver: Any, hall: str, **fields: Any) -> None:
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=hall, **fields)


def refused(driver: Any, user: str, hall: str, start: str, end: str) -> str:
    with pytest.raises(Refused) as info:
        driver.book(user, hall, DAY, start, end)
    return info.value.code


def kinds_to(driver: Any, user: str) -> list[str]:
    box = mailbox.Maildir(driver.service.home / "outbox", create=False)
    return sorted(m["X-BookIT-Kind"] for m in box if m["To"] == user)


def status(driver: Any, booking_id: str) -> str:
    row = queries.booking(driver.service.engine, booking_id)
    assert row is not None
    return str(row["status"])


# Buffers


def test_rule_13_a_buffer_blocked_slot_can_be_queued_for_and_is_offered_when_freed(
    driver: Any, hall: str
) -> None:
    rules(driver, hall, buffer_minutes=30)
    ann = driver.book(ANN, hall, DAY, "10:00", "11:00")
    assert refused(driver, BOB, hall, "11:15", "12:00") == "buffer_conflict"
    entry = driver.join(BOB, hall, DAY, "11:15", "12:00")
    driver.send(c.CancelBooking, actor=ANN, booking_id=ann)
    [mine] = queries.my_waitlist(driver.service.engine, BOB, driver.clock.now)
    assert mine["entry_id"] == entry and mine["status"] == "offered"


def test_rule_13_an_admin_books_over_a_buffer(driver: Any, hall: str) -> None:
    rules(driver, hall, buffer_minutes=30)
    driver.book(ANN, hall, DAY, "10:00", "11:00")
    driver.book(ADMIN, hall, DAY, "11:00", "12:00")
    assert refused(driver, ADMIN, hall, "10:30", "11:30") == "slot_taken"


# Quotas


def test_rule_13_quota_counts_per_user_cancelled_bookings_free_it_and_admins_are_exempt(
    driver: Any, hall: str
) -> None:
    rules(driver, hall, quota_bookings="2/week", quota_hours="3/day")
    first = driver.book(ANN, hall, DAY, "08:00", "09:00")
    driver.book(ANN, hall, "2026-12-06", "08:00", "09:00")  # Sunday: the same ISO week
    assert refused(driver, ANN, hall, "12:00", "13:00") == "quota_exceeded"
    driver.book(BOB, hall, DAY, "12:00", "13:00")  # someone else's quota
    driver.send(c.CancelBooking, actor=ANN, booking_id=first)
    driver.book(ANN, hall, DAY, "14:00", "15:00")
    for hour in range(4):
        driver.book(ADMIN, hall, DAY, f"{16 + hour}:00", f"{16 + hour}:30")
    counter = driver.service.app.maybe(QuotaCounter, QuotaCounter.id_for(ANN, hall, "week", DAY))
    assert counter is not None and len(counter.counted) == 2


def test_rule_13_the_hours_quota_refuses_by_length(driver: Any, hall: str) -> None:
    rules(driver, hall, quota_hours="2/day")
    driver.book(ANN, hall, DAY, "08:00", "09:30")
    assert refused(driver, ANN, hall, "12:00", "13:00") == "quota_exceeded"
    driver.book(ANN, hall, DAY, "12:00", "12:30")


def test_rule_12_a_booking_made_before_a_quota_existed_is_not_counted_by_it(driver: Any, hall: str) -> None:
    driver.book(ANN, hall, DAY, "08:00", "09:00")
    rules(driver, hall, quota_bookings="1/day")
    driver.book(ANN, hall, DAY, "10:00", "11:00")
    assert refused(driver, ANN, hall, "12:00", "13:00") == "quota_exceeded"


# Check-in and no-shows


def test_rule_14_a_no_show_is_released_to_the_waitlist_with_an_offer_ending_before_the_slot(
    driver: Any, hall: str
) -> None:
    rules(driver, hall, check_in_minutes=15)
    ann = driver.book(ANN, hall, DAY, "10:00", "11:00")
    entry = driver.join(BOB, hall, DAY, "10:00", "11:00")
    driver.clock.set(at("10:00"))
    driver.tick()
    assert "check-in" in kinds_to(driver, ANN)
    driver.clock.set(at("10:15"))
    driver.tick()
    assert status(driver, ann) == "no_show"
    [offer] = queries.my_waitlist(driver.service.engine, BOB, driver.clock.now)
    assert offer["status"] == "offered" and offer["offered_until"] == f"{DAY}T10:30:00Z"
    driver.clock.set(at("10:20"))
    claimed = driver.send(c.ClaimOffer, actor=BOB, entry_id=entry)
    assert status(driver, claimed["booking_id"]) == "confirmed"
    assert kinds_to(driver, ANN) == ["booking-confirmed", "check-in", "no-show"]
    [strike] = queries.strikes_of(driver.service.engine, ANN, driver.clock.now)
    assert (strike["reason"], strike["booking_id"], strike["counts"]) == ("no_show", ann, True)


def test_rule_14_the_last_offer_of_no_show_time_ends_when_the_queue_closes(driver: Any, hall: str) -> None:
    rules(driver, hall, check_in_minutes=40)
    driver.book(ANN, hall, DAY, "10:00", "11:00")
    driver.join(BOB, hall, DAY, "10:00", "11:00")
    driver.clock.set(at("10:40"))
    driver.tick()
    [offer] = queries.my_waitlist(driver.service.engine, BOB, driver.clock.now)
    assert offer["offered_until"] == f"{DAY}T10:45:00Z"  # the slot's end less the 15-minute window
    driver.clock.set(at("10:45"))
    driver.tick()
    assert queries.my_waitlist(driver.service.engine, BOB, driver.clock.now) == []
    assert kinds_to(driver, BOB) == ["waitlist-closed", "waitlist-offer"]  # as at a start (rule 6)


def test_rule_14_a_checked_in_booking_is_never_released(driver: Any, hall: str) -> None:
    rules(driver, hall, check_in_minutes=15)
    ann = driver.book(ANN, hall, DAY, "10:00", "11:00")
    driver.join(BOB, hall, DAY, "10:00", "11:00")
    driver.clock.set(at("10:05"))
    driver.send(c.CheckIn, actor=ANN, booking_id=ann)
    driver.clock.set(at("12:00"))
    driver.tick()
    assert status(driver, ann) == "booked"
    assert "no-show" not in kinds_to(driver, ANN)
    assert queries.strikes_of(driver.service.engine, ANN, driver.clock.now) == []


def test_rule_12_check_in_is_judged_by_the_rules_the_booking_was_made_under(driver: Any, hall: str) -> None:
    before = driver.book(ANN, hall, DAY, "10:00", "11:00")
    rules(driver, hall, check_in_minutes=15)
    driver.clock.set(at("10:30"))
    driver.tick()
    assert status(driver, before) == "booked"  # booked with no check-in rule: never released


# Strikes and suspension


def test_rule_14_three_strikes_suspend_until_an_admin_clears_them(driver: Any, hall: str) -> None:
    rules(driver, hall, check_in_minutes=10, late_cancel_minutes=120, no_show_strikes=3, strike_days=30)
    first = driver.book(ANN, hall, DAY, "09:00", "10:00")
    second = driver.book(ANN, hall, DAY, "12:00", "13:00")
    third = driver.book(ANN, hall, DAY, "15:00", "16:00")
    driver.clock.set(at("09:10"))
    driver.tick()  # no-show: strike 1
    driver.clock.set(at("11:00"))
    driver.send(c.CancelBooking, actor=ANN, booking_id=second)  # 1 h before: late, strike 2
    driver.clock.set(at("13:30"))
    driver.send(c.CancelBooking, actor=ANN, booking_id=third)  # 1.5 h before: strike 3
    assert kinds_to(driver, ANN).count("suspended") == 1
    with pytest.raises(Refused) as info:
        driver.book(ANN, hall, "2026-12-07", "10:00", "11:00")
    assert info.value.code == "suspended" and "until 2027-01-04 09:10" in info.value.message
    reasons = [s["reason"] for s in queries.strikes_of(driver.service.engine, ANN, driver.clock.now)]
    assert reasons == ["no_show", "late_cancel", "late_cancel"]
    with pytest.raises(Refused):
        driver.send(c.ClearStrikes, actor=BOB, user=ANN, venue_id=hall)
    driver.send(c.ClearStrikes, actor=ADMIN, user=ANN, venue_id=hall)
    driver.book(ANN, hall, "2026-12-07", "10:00", "11:00")
    assert {s["status"] for s in queries.strikes_of(driver.service.engine, ANN, driver.clock.now)} == {
        "cleared"
    }
    assert first != second


def test_rule_14_a_waived_strike_shows_in_the_bookings_history(driver: Any, hall: str) -> None:
    rules(driver, hall, late_cancel_minutes=60)
    booking = driver.book(ANN, hall, DAY, "10:00", "11:00")
    driver.clock.set(at("09:30"))
    driver.send(c.CancelBooking, actor=ANN, booking_id=booking)
    driver.send(c.WaiveStrike, actor=ADMIN, booking_id=booking)
    topics = [row["topic"] for row in queries.history(driver.service.engine, booking)]
    assert topics[-2:] == ["strikes.recorded", "strikes.waived"]
    [strike] = queries.strikes_of(driver.service.engine, ANN, driver.clock.now)
    assert (strike["status"], strike["changed_by"]) == ("waived", ADMIN)


def test_rule_14_an_early_cancellation_and_an_auto_cancellation_are_no_strikes(
    driver: Any, hall: str
) -> None:
    rules(driver, hall, late_cancel_minutes=60)
    early = driver.book(ANN, hall, DAY, "10:00", "11:00")
    driver.send(c.CancelBooking, actor=ANN, booking_id=early)
    driver.book(ANN, hall, DAY, "12:00", "13:00")
    driver.clock.set(at("10:00"))  # reminded and auto-cancelled (not by its owner)
    driver.tick()
    assert queries.strikes_of(driver.service.engine, ANN, driver.clock.now) == []
    assert UUID(early)
