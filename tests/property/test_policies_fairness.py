"""Fairness through the whole service (DESIGN rules 6-8), on the kit we ship: bookit.testing's
`FairnessMachine`, exactly as a user subclasses it.

The machine interleaves bookings, waitlist joins (some put ahead by the desk), leaves, declines,
claims (some exactly at the deadline), cancellations, confirmations and ticks over two venues
whose slots overlap, with the clock jumping about (also to local midnight and DST changes).
After every step the stored history must keep every promise `InvariantChecker` knows (the checks
of `bookit check`), and the read models people see must show no double booking and at most one
open offer per slot. Here it also runs on a venue in New York, whose wall times are not UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import invariant

from bookit import commands as c
from bookit.errors import Refused
from bookit.projections import queries
from bookit.testing import FairnessMachine


class PoliciesFairness(FairnessMachine):
    venues = (("hall", "Europe/London"), ("court", "Europe/London"), ("loft", "America/New_York"))

    @invariant()
    def every_email_was_derived_from_one_event(self) -> None:
        message_ids = [m["Message-ID"] for m in self.outbox.messages]
        assert len(message_ids) == len(set(message_ids)), "an email was sent twice"


PoliciesFairness.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # Each example runs the whole service, so shrinking a failure takes Hypothesis minutes; the
    # failing steps are printed unshrunk, and the minimal stories found so far are the plain
    # tests below.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
test_policies_fairness = PoliciesFairness.TestCase

test_policies_fairness = PoliciesFairness.TestCase


def test_a_queue_closing_at_its_start_hands_its_held_time_to_an_overlapping_queue(driver: Any) -> None:
    """Rule 7, found by the machine above: an offer still open when its slot starts is cut short
    by the queue closing, and the time it held must go to the next queue that wants it."""
    hall = driver.venue("Main Hall")
    booking = driver.book("ann@example.org", hall, "2026-12-01", "10:00", "11:00")
    driver.join("bob@example.org", hall, "2026-12-01", "10:00", "11:00")
    driver.join("cy@example.org", hall, "2026-12-01", "10:30", "11:30")
    driver.clock.set(datetime(2026, 12, 1, 9, 50, tzinfo=UTC))
    driver.send(c.CancelBooking, actor="ann@example.org", booking_id=booking)  # bob: offer until 10:00

    driver.tick(minutes=10)  # 10:00: bob's slot starts, his queue closes, his hold is lifted

    engine = driver.service.engine
    assert [e["status"] for e in queries.my_waitlist(engine, "cy@example.org", driver.clock.now)] == [
        "offered"
    ], "10:30-11:30 is free again, and cy, first in its queue, was not offered it"
    with pytest.raises(Refused) as refusal:
        driver.book("dan@example.org", hall, "2026-12-01", "10:30", "11:30")
    assert refusal.value.code == "slot_held"
