"""DESIGN rule 24 on a real store, through the bus and the tick: a no-show strike needs a fair
chance. With check-in on, a tick that runs long after check-in closed (the service was down)
still frees the booking's time, but records no strike, and the booking's history and its
no-show email say why. A tick on time (within BOOKIT_REMINDER_GRACE_MINUTES) counts as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bookit import commands as c
from bookit.bootstrap import Service
from bookit.projections import queries

ADMIN, ALICE, BOB = "admin@example.com", "alice@example.com", "bob@example.com"


@pytest.fixture
def hall(driver: Any) -> str:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    venue = driver.venue()
    driver.send(
        c.SetVenueRules, actor=ADMIN, venue_id=venue, check_in_minutes=15, no_show_strikes=1, strike_days=30
    )
    return venue


def no_show_story(driver: Any, hall: str, released_at: datetime) -> str:
    """Alice books Thursday 14:00-16:00 (London = UTC in December), confirms, opens nothing; Bob
    waits for the time; the clock's next tick is at `released_at`."""
    booking = driver.book(ALICE, hall, "2026-12-03", "14:00", "16:00")
    driver.clock.set(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    driver.tick()  # the reminder
    driver.send(c.ConfirmBooking, actor=ALICE, booking_id=booking)
    driver.join(BOB, hall, "2026-12-03", "14:00", "16:00")
    driver.clock.set(released_at)
    driver.tick()
    return booking


def mails(service: Service, kind: str, to: str) -> list[Any]:
    return [m for m in service.mailer.outbox.messages() if m["X-BookIT-Kind"] == kind and m["To"] == to]


def test_rule_24_a_release_decided_days_late_frees_the_time_but_records_no_strike(
    service: Service, driver: Any, hall: str
) -> None:
    booking = no_show_story(driver, hall, datetime(2026, 12, 5, 9, 0, tzinfo=UTC))  # down for two days

    row = queries.booking(service.engine, booking)
    assert row is not None and row["status"] == "no_show"
    assert queries.strikes_of(service.engine, ALICE, driver.clock.now) == []
    topics = [type(e).TOPIC for e in driver.events()]
    assert "strikes.recorded" not in topics and "strikes.suspended" not in topics
    # Its history says why: the no-show event carries the reason it is no strike.
    [released] = [h for h in queries.history(service.engine, booking) if h["topic"] == "booking.no_show"]
    assert released["data"]["no_strike"].startswith("decided at 2026-12-05 09:00 UTC, 2565 min after")
    assert "BookIT was not running then" in released["data"]["no_strike"]
    # And so does the email, in the venue's zone.
    [email] = mails(service, "no-show", ALICE)
    text = str(email.get_body(("plain",)).get_content())
    assert "it is not counted against you: BookIT was not running when check-in closed" in text
    assert "09:00 on Saturday 5 December" in text
    # Alice may book there again: one strike would have suspended her.
    driver.book(ALICE, hall, "2026-12-10", "10:00", "11:00")


def test_rule_24_a_release_on_time_is_a_strike_as_before(service: Service, driver: Any, hall: str) -> None:
    # Check-in closed at 14:15; the tick comes at 15:15, within the 60-minute grace.
    booking = no_show_story(driver, hall, datetime(2026, 12, 3, 15, 15, tzinfo=UTC))

    assert queries.booking(service.engine, booking)["status"] == "no_show"  # type: ignore[index]
    [strike] = queries.strikes_of(service.engine, ALICE, driver.clock.now)
    assert strike["booking_id"] == booking
    [email] = mails(service, "no-show", ALICE)
    assert "counts as a no-show at this venue" in str(email.get_body(("plain",)).get_content())
    assert mails(service, "suspended", ALICE)
