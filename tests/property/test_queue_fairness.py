"""Fairness of one waitlist queue (DESIGN rules 6 and 8), on the WaitlistSlot aggregate alone.

Hypothesis interleaves joins (with random priorities), leaves, offers, claims, declines, expiries,
the slot starting and the clock moving (bookit.testing's FakeClock, people drawn by its
`users()` strategy), and checks the aggregate against a plain model of what
the rules promise: the first in (priority, join order) is offered, one offer at a time, nobody
twice, nobody skipped, claims refused to the second once the deadline has come, and leaving never
reorders the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.waitlist import ACTIVE, WaitlistSlot
from bookit.errors import Refused
from bookit.testing import FakeClock
from bookit.testing.strategies import users

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STARTS = T0 + timedelta(hours=1)
WINDOW = timedelta(minutes=15)
USERS = [f"user{n}@example.org" for n in range(5)]  # the people `users(5)` draws from


@dataclass
class Expected:
    """What the rules say about one entry, kept independently of the aggregate."""

    user: str
    priority: int
    seq: int
    status: str = "waiting"
    deadline: datetime | None = None

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.seq)


class QueueFairness(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.commands = 0
        self.slot = WaitlistSlot.open(
            "hall", "2026-12-01", "10:00", "11:00", STARTS, STARTS + timedelta(hours=1), self.cause(SYSTEM)
        )
        self.expected: dict[str, Expected] = {}
        self.offered: list[str] = []
        self.closed = False

    def cause(self, actor: str) -> Cause:
        self.commands += 1
        return Cause(actor, f"command-{self.commands}", self.clock.now)

    def waiting(self) -> list[str]:
        waiting = [e for e in self.expected if self.expected[e].status == "waiting"]
        return sorted(waiting, key=lambda e: self.expected[e].order)

    def open_offer(self) -> str | None:
        return next((e for e, x in self.expected.items() if x.status == "offered"), None)

    def refused(self, code: str, action: Callable[..., object], *args: object) -> None:
        """The action is refused with `code` and records nothing."""
        before = len(self.slot.pending_events)
        with pytest.raises(Refused) as refusal:
            action(*args)
        assert refusal.value.code == code
        assert len(self.slot.pending_events) == before

    # The clock

    @rule(minutes=st.integers(0, 40), seconds=st.integers(0, 59))
    def time_passes(self, minutes: int, seconds: int) -> None:
        self.clock.advance(minutes=minutes, seconds=seconds)

    @precondition(lambda self: self.open_offer() is not None)
    @rule(nudge=st.sampled_from([-1, 0, 1]))
    def clock_reaches_the_deadline(self, nudge: int) -> None:
        deadline = self.expected[self.open_offer() or ""].deadline
        assert deadline is not None
        self.clock.now = max(self.clock.now, deadline + timedelta(seconds=nudge))

    # People

    @rule(user=users(5), priority=st.integers(-2, 2))
    def join(self, user: str, priority: int) -> None:
        entry_id = UUID(int=len(self.expected) + 1)
        if self.closed or self.clock.now >= STARTS:
            self.refused("queue_closed", self.slot.join, entry_id, user, priority, self.cause(user))
            return
        if any(x.user == user and x.status in ("waiting", "offered") for x in self.expected.values()):
            self.refused("already_waiting", self.slot.join, entry_id, user, priority, self.cause(user))
            return
        position = self.slot.join(entry_id, user, priority, self.cause(user))
        seq = len(self.expected) + 1
        self.expected[str(entry_id)] = Expected(user, priority, seq)
        assert self.slot.entry(str(entry_id)).seq == seq
        assert position == self.waiting().index(str(entry_id)) + 1

    @precondition(lambda self: self.expected)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.expected)))
        entry = self.expected[entry_id]
        if entry.status not in ("waiting", "offered"):
            self.refused("not_waiting", self.slot.leave, entry_id, self.cause(entry.user))
            return
        others_before = [e for e in self.waiting() if e != entry_id]
        gave_up_offer = self.slot.leave(entry_id, self.cause(entry.user))
        assert gave_up_offer == (entry.status == "offered")
        entry.status = "left"
        assert [e.entry_id for e in self.slot.waiting()] == others_before, "leaving reordered the queue"

    @precondition(lambda self: self.expected)
    @rule(data=st.data(), action=st.sampled_from(["claim", "decline", "leave"]))
    def only_the_owner_acts_on_an_entry(self, data: st.DataObject, action: str) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.expected)))
        stranger = data.draw(st.sampled_from([u for u in USERS if u != self.expected[entry_id].user]))
        cause = self.cause(stranger)
        args = (entry_id, UUID(int=10**6), cause) if action == "claim" else (entry_id, cause)
        if entry_id in self.slot.entries:
            self.refused("not_owner", getattr(self.slot, action), *args)
        else:
            # Forgotten by the slot once out of the queue: the application refuses strangers
            # from the entry's ticket (test_rule_10_*); the slot says the entry is out.
            self.refused(
                "not_waiting" if action == "leave" else "no_offer", getattr(self.slot, action), *args
            )

    @precondition(lambda self: self.expected)
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        self.claim_entry(data.draw(st.sampled_from(sorted(self.expected))))

    @precondition(lambda self: self.open_offer() is not None)
    @rule()
    def claim_the_open_offer(self) -> None:
        self.claim_entry(self.open_offer() or "")

    def claim_entry(self, entry_id: str) -> None:
        entry = self.expected[entry_id]
        booking_id = UUID(int=10**6 + self.commands)
        if entry.status != "offered":
            self.refused("no_offer", self.slot.claim, entry_id, booking_id, self.cause(entry.user))
        elif entry.deadline is not None and self.clock.now >= entry.deadline:
            self.refused("offer_expired", self.slot.claim, entry_id, booking_id, self.cause(entry.user))
        else:
            self.slot.claim(entry_id, booking_id, self.cause(entry.user))
            entry.status = "claimed"

    @precondition(lambda self: self.expected)
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.expected)))
        entry = self.expected[entry_id]
        if entry.status != "offered":
            self.refused("no_offer", self.slot.decline, entry_id, self.cause(entry.user))
            return
        self.slot.decline(entry_id, self.cause(entry.user))
        entry.status = "declined"

    # The policies and the clock acting on the queue

    @rule()
    def offer_next(self) -> None:
        in_line = self.waiting()
        offer = self.slot.offer_next(WINDOW, self.cause(SYSTEM))
        if self.open_offer() is not None or self.closed or self.clock.now >= STARTS or not in_line:
            assert offer is None
            return
        assert offer is not None, "a free slot with people waiting was not offered"
        assert offer.entry_id == in_line[0], "offered to someone who was not first in line"
        assert offer.entry_id not in self.offered, "offered twice"
        assert offer.deadline == min(self.clock.now + WINDOW, STARTS)
        self.offered.append(offer.entry_id)
        self.expected[offer.entry_id].status = "offered"
        self.expected[offer.entry_id].deadline = offer.deadline

    @precondition(lambda self: self.expected)
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.expected)))
        entry = self.expected[entry_id]
        if entry.status != "offered":
            assert self.slot.expire(entry_id, self.cause(SYSTEM)) is False
        elif entry.deadline is not None and self.clock.now < entry.deadline:
            self.refused("not_due", self.slot.expire, entry_id, self.cause(SYSTEM))
        else:
            assert self.slot.expire(entry_id, self.cause(SYSTEM)) is True
            entry.status = "expired"

    @rule()
    def close(self) -> None:
        if self.closed:
            assert self.slot.close(self.cause(SYSTEM)) == []
            return
        if self.clock.now < STARTS:
            self.refused("not_due", self.slot.close, self.cause(SYSTEM))
            return
        still_in = [e for e in self.expected if self.expected[e].status in ("waiting", "offered")]
        told = self.slot.close(self.cause(SYSTEM))
        assert sorted(e.entry_id for e in told) == sorted(still_in)
        for entry_id in still_in:
            self.expected[entry_id].status = "closed"
        self.closed = True

    # What must hold after every step

    @invariant()
    def at_most_one_open_offer(self) -> None:
        assert sum(1 for e in self.slot.entries.values() if e.status == "offered") <= 1

    @invariant()
    def everyone_is_where_the_rules_put_them(self) -> None:
        in_queue = {e: x.status for e, x in self.expected.items() if x.status in ("waiting", "offered")}
        assert in_queue == {e: x.status for e, x in self.slot.entries.items() if x.status in ACTIVE}
        # The slot also keeps, until its next event, the entries its latest event took out.
        assert all(x.status == self.expected[e].status for e, x in self.slot.entries.items())
        assert [e.entry_id for e in self.slot.waiting()] == self.waiting()

    @invariant()
    def nobody_skipped(self) -> None:
        # Only an offer takes someone out of line without their doing: an entry that was never
        # offered is still waiting, left of its own accord, or was in line when the slot started.
        for entry_id, entry in self.expected.items():
            if entry_id not in self.offered:
                assert entry.status in ("waiting", "left", "closed")

    @invariant()
    def no_offer_outlives_the_slot_start(self) -> None:
        for entry in self.slot.entries.values():
            assert entry.deadline is None or entry.deadline <= STARTS


QueueFairness.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_queue_fairness = QueueFairness.TestCase
