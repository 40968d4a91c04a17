"""Fairness per offer mode, with quiet hours (DESIGN rules 15 and 16), through the application.

Hypothesis picks a mode (`one`, `batch:N`, `all`), a window (fixed or by lead time) and maybe
quiet hours, then interleaves bookings, cancellations, joins, claims, declines, leaves and the
clock over overlapping slots. Every stored event goes through the `InvariantChecker` (one
freeing at a time, offered in (priority, join order), never a slot that is not free, no claim
after its deadline or before its window opens, no overlapping bookings), and each freeing is
checked against what its mode promises:

- `one`: exactly the first in line is offered;
- `batch:N`: exactly the first min(N, waiting) are offered, so nobody outside the first N of
  the line is offered before someone inside it;
- `all`: everyone waiting is offered;
- in every mode those who lost to a faster claim are back in line in their old places;
- an offer made in quiet hours opens when they end (never inside them), unless that leaves
  less than the minimum window before the start; one made outside them opens at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.offer_policy import OfferPolicy
from bookit.aggregates.waitlist import OFFERED, WaitlistSlot
from bookit.application import BookIT
from bookit.config import Rules
from bookit.errors import BadInput, Refused
from bookit.testing.invariants import InvariantChecker

T0 = datetime(2027, 3, 27, 18, 0, tzinfo=UTC)  # Berlin's clocks go forward that night
TZ = "Europe/Berlin"
DATE = "2027-03-28"
SLOTS = [("08:05", "09:00"), ("09:00", "11:00"), ("10:00", "12:00"), ("14:00", "15:00")]
USERS = [f"u{n}@example.org" for n in range(6)]


class ModeChecker(InvariantChecker):
    """The common invariants, plus what the mode promises for each freeing."""

    def __init__(self, rules: Rules, policy: OfferPolicy) -> None:
        super().__init__(rules)
        self.policy = policy
        self._freeing: dict[str, tuple[str, int]] = {}  # slot -> (command, expected count)

    def _notified(self, e: WaitlistSlot.Notified) -> None:
        queue = self.queues[str(e.originator_id)]
        slot_id = str(e.originator_id)
        if self._freeing.get(slot_id, ("", 0))[0] != e.command_id:
            self._freeing[slot_id] = (e.command_id, self.policy.mode.how_many(len(queue.waiting)))
        expected = self._freeing[slot_id][1]
        if e.together != expected:
            self._breach(e, f"{e.together} offered together, mode {self.policy.mode} says {expected}")
        self._check_quiet(e, queue.starts_at)
        super()._notified(e)

    def _check_quiet(self, e: WaitlistSlot.Notified, starts_at: datetime) -> None:
        quiet = self.policy.quiet
        end = quiet.end_after(e.timestamp, self.policy.tz) if quiet else None
        if end is None or starts_at - end < self.policy.min_window:
            if e.opens_at is not None:
                self._breach(e, f"offer made at {e.timestamp} was delayed to {e.opens_at}")
            return
        assert quiet is not None
        if e.opens_at != end or quiet.end_after(end, self.policy.tz) is not None:
            self._breach(e, f"offer in quiet hours opens at {e.opens_at}, not when they end ({end})")


modes = st.sampled_from(["one", "batch:2", "batch:3", "all"])
quiet_hours = st.sampled_from([None, "22:00-08:00", "01:00-02:30", "12:00-13:50"])


class OfferModesFairness(RuleBasedStateMachine):
    @initialize(mode=modes, quiet=quiet_hours, auto=st.booleans())
    def setup(self, mode: str, quiet: str | None, auto: bool) -> None:
        self.rules = Rules(offer_mode=mode, quiet_hours=quiet, offer_window_auto=auto)
        self.app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, rules=self.rules)
        self.checker = ModeChecker(self.rules, self.rules.offer_policy(TZ))
        self.now = T0
        self.position = 0
        self.commands = 0
        self.bookings: dict[str, str] = {}  # live booking -> owner
        self.entries: dict[str, tuple[str, str]] = {}  # entry -> (owner, slot id)
        self.send(c.RegisterVenue, SYSTEM, name="Hall", tz=TZ, venue_id="hall")

    def send(self, cls: type[c.Command], actor: str, **fields: Any) -> dict[str, Any] | None:
        try:
            self.commands += 1  # ids derived from a counter, so hypothesis can replay a story
            command = c.build(cls, actor=actor, command_id=UUID(int=self.commands), **fields)
            return self.app.handle(command, self.now)
        except (Refused, BadInput):  # refused by a rule, or the slot is in the past by now
            return None
        finally:
            self.feed()

    def feed(self) -> None:
        stored = self.app.recorder.select_notifications(start=self.position + 1, limit=10_000)
        for notification in stored:
            self.checker.feed(self.app.mapper.to_domain_event(notification))
            self.position = notification.id

    def slot(self, slot_id: str) -> WaitlistSlot:
        return self.app.waitlist_slot(WaitlistSlot.id_for("hall", DATE, *SLOTS[int(slot_id)]))

    @rule(user=st.sampled_from(USERS), which=st.integers(0, len(SLOTS) - 1))
    def book_or_queue(self, user: str, which: int) -> None:
        start, end = SLOTS[which]
        fields = {"venue_id": "hall", "date": DATE, "start": start, "end": end}
        booked = self.send(c.BookVenue, user, **fields)
        if booked is not None:
            self.bookings[booked["booking_id"]] = user
            return
        joined = self.send(c.JoinWaitlist, user, **fields)
        if joined is not None:
            self.entries[joined["entry_id"]] = (user, str(which))

    @precondition(lambda self: self.bookings)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        booking_id = data.draw(st.sampled_from(sorted(self.bookings)))
        self.send(c.CancelBooking, self.bookings.pop(booking_id), booking_id=booking_id)

    @precondition(lambda self: self.entries)
    @rule(data=st.data(), action=st.sampled_from(["claim", "claim", "decline", "leave"]))
    def answer(self, data: st.DataObject, action: str) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.entries)))
        user, _ = self.entries[entry_id]
        cls = {"claim": c.ClaimOffer, "decline": c.DeclineOffer, "leave": c.LeaveWaitlist}[action]
        outcome = self.send(cls, user, entry_id=entry_id)
        if outcome is not None and action == "claim":
            self.bookings[outcome["booking_id"]] = user

    @rule(minutes=st.sampled_from([1, 7, 15, 30, 60, 180]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.clock_runs()

    def clock_runs(self) -> None:
        """What the due timers would nominate now: open windows, expire offers, close queues."""
        for which in range(len(SLOTS)):
            try:
                slot = self.slot(str(which))
            except Exception:  # noqa: BLE001 - no queue for that slot yet
                continue
            for entry in list(slot.entries.values()):
                if entry.status != OFFERED:
                    continue
                assert entry.deadline is not None
                ids = {"slot_id": slot.id, "entry_id": entry.entry_id}
                if entry.opens_at is not None and entry.opens_at <= self.now:
                    self.send(c.OpenOfferWindow, SYSTEM, **ids)
                if entry.deadline <= self.now:
                    self.send(c.ExpireOffer, SYSTEM, **ids)
            if slot.starts_at <= self.now and not slot.closed:
                self.send(c.CloseWaitlist, SYSTEM, slot_id=slot.id)

    @invariant()
    def every_promise_holds(self) -> None:
        if hasattr(self, "checker"):
            assert self.checker.report() == []


TestOfferModesFairness = OfferModesFairness.TestCase
TestOfferModesFairness.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck)
)
