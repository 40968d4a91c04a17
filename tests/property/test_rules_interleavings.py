"""Venue rules under random interleavings (DESIGN rules 13 and 14), through the whole service.

Hypothesis books (ordinary users and an admin), cancels, checks in (in time, too early, too
late, as someone else), joins queues, claims and ticks over one venue with a buffer, quotas and
check-in. After every step: no two live bookings closer than the buffer unless an admin booked
over it; nobody above a quota (admins exempt; cancelled bookings not counted); no checked-in
booking ever released; and every promise `bookit.testing.invariants.InvariantChecker` knows.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.booking import Booking
from bookit.bootstrap import bootstrap
from bookit.errors import BookitError
from bookit.projections import queries
from bookit.testing import FakeClock, MemoryOutbox
from bookit.testing.invariants import InvariantChecker

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
DATE = "2026-12-02"  # Europe/London is UTC in December
BUFFER, CHECK_IN, QUOTA_BOOKINGS, QUOTA_HOURS = 15, 15, 3, 2
USERS = [f"user{n}@example.org" for n in range(3)]
ADMIN = "desk@example.org"
STARTS = [f"{h:02d}:{m:02d}" for h in range(9, 13) for m in (0, 15, 30, 45)]
LENGTHS = [30, 45, 60, 90]


def plus(start: str, minutes: int) -> str:
    h, m = int(start[:2]), int(start[3:]) + minutes
    return f"{h + m // 60:02d}:{m % 60:02d}"


class RulesInterleavings(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.home = tempfile.TemporaryDirectory(prefix="bookit-rules-property-")
        self.clock = FakeClock(T0)
        self.service = bootstrap(self.home.name, clock=self.clock, outbox=MemoryOutbox())
        self.checker = InvariantChecker(self.service.app.rules)
        self.position = 0
        self.commands = 0
        self.owners: dict[str, str] = {}
        self.entries: dict[str, str] = {}
        self.send(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London", venue_id="hall")
        self.send(c.GrantAdmin, actor=SYSTEM, email=ADMIN)
        self.send(
            c.SetVenueRules,
            actor=ADMIN,
            venue_id="hall",
            buffer_minutes=BUFFER,
            check_in_minutes=CHECK_IN,
            quota_bookings=f"{QUOTA_BOOKINGS}/day",
            quota_hours=f"{QUOTA_HOURS}/day",
        )

    def teardown(self) -> None:
        self.service.close()
        self.home.cleanup()

    def send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any] | BookitError:
        self.commands += 1
        try:
            return self.service.bus.handle(c.build(cls, command_id=UUID(int=self.commands), **fields))
        except BookitError as error:
            return error

    def booking(self, booking_id: str) -> Booking:
        return self.service.app.booking(UUID(booking_id))

    # Steps

    @rule(
        user=st.sampled_from([*USERS, ADMIN]), start=st.sampled_from(STARTS), minutes=st.sampled_from(LENGTHS)
    )
    def book(self, user: str, start: str, minutes: int) -> None:
        outcome = self.send(
            c.BookVenue, actor=user, venue_id="hall", date=DATE, start=start, end=plus(start, minutes)
        )
        if isinstance(outcome, dict):
            self.owners[outcome["booking_id"]] = user
        else:
            assert outcome.code in (
                "slot_taken",
                "slot_held",
                "buffer_conflict",
                "quota_exceeded",
                "in_the_past",
            ), outcome

    @precondition(lambda self: self.owners)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        booking_id = data.draw(st.sampled_from(sorted(self.owners)))
        self.send(c.CancelBooking, actor=self.owners[booking_id], booking_id=booking_id)

    @precondition(lambda self: self.owners)
    @rule(data=st.data(), by_owner=st.booleans())
    def check_in(self, data: st.DataObject, by_owner: bool) -> None:
        booking_id = data.draw(st.sampled_from(sorted(self.owners)))
        before = self.booking(booking_id)
        actor = (
            self.owners[booking_id] if by_owner else next(u for u in USERS if u != self.owners[booking_id])
        )
        outcome = self.send(c.CheckIn, actor=actor, booking_id=booking_id)
        in_time = (
            before.is_live
            and before.check_in_until is not None
            and before.starts_at <= self.clock.now < before.check_in_until
        )
        assert isinstance(outcome, dict) == (by_owner and in_time), outcome

    @rule(user=st.sampled_from(USERS), start=st.sampled_from(STARTS), minutes=st.sampled_from(LENGTHS))
    def join(self, user: str, start: str, minutes: int) -> None:
        where = {"venue_id": "hall", "date": DATE, "start": start, "end": plus(start, minutes)}
        outcome = self.send(c.JoinWaitlist, actor=user, **where)
        if isinstance(outcome, dict):
            self.entries[outcome["entry_id"]] = user

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        entry_id = data.draw(st.sampled_from(sorted(self.entries)))
        outcome = self.send(c.ClaimOffer, actor=self.entries[entry_id], entry_id=entry_id)
        if isinstance(outcome, dict):
            self.owners[outcome["booking_id"]] = self.entries[entry_id]

    @rule(minutes=st.integers(1, 25))
    def tick(self, minutes: int) -> None:
        self.clock.now += timedelta(minutes=minutes)
        self.send(c.Tick, now=self.clock.now)

    # After every step

    @invariant()
    def stored_history_keeps_every_promise(self) -> None:
        app = self.service.app
        for notification in app.recorder.select_notifications(start=self.position + 1, limit=10**6):
            self.checker.feed(app.mapper.to_domain_event(notification))
            self.position = notification.id
        problems = self.checker.report()
        assert not problems, "\n".join(problems)

    def live(self) -> list[dict[str, Any]]:
        return [
            r for r in queries.booking_list(self.service.engine) if r["status"] in ("booked", "confirmed")
        ]

    @invariant()
    def no_two_live_bookings_closer_than_the_buffer_unless_an_admin_booked_over_it(self) -> None:
        rows = sorted(self.live(), key=lambda r: r["starts_at"])
        for first, second in zip(rows, rows[1:], strict=False):
            gap = datetime.fromisoformat(second["starts_at"]) - datetime.fromisoformat(first["ends_at"])
            assert gap >= timedelta(0), "two live bookings overlap"
            if gap < timedelta(minutes=BUFFER):
                assert ADMIN in (first["user"], second["user"]), f"buffer broken: {first} / {second}"

    @invariant()
    def nobody_is_above_a_quota(self) -> None:
        count: dict[str, int] = defaultdict(int)
        minutes: dict[str, float] = defaultdict(float)
        for row in queries.booking_list(self.service.engine):
            if row["user"] == ADMIN or row["status"] in ("cancelled", "auto_cancelled"):
                continue  # admins are exempt; cancellations stop counting (no-shows still count)
            count[row["user"]] += 1
            span = datetime.fromisoformat(row["ends_at"]) - datetime.fromisoformat(row["starts_at"])
            minutes[row["user"]] += span / timedelta(minutes=1)
        assert all(n <= QUOTA_BOOKINGS for n in count.values()), dict(count)
        assert all(m <= QUOTA_HOURS * 60 for m in minutes.values()), dict(minutes)

    @invariant()
    def no_checked_in_booking_is_ever_released(self) -> None:
        with self.service.engine.connect() as conn:
            from bookit.projections.tables import check_ins

            for row in conn.execute(check_ins.select()):
                assert not (row.checked_in_at and row.no_show_at), (
                    f"checked-in booking {row.booking_id} released"
                )
                if row.no_show_at:
                    assert row.no_show_at >= row.check_in_until


RulesInterleavings.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
test_rules_interleavings = RulesInterleavings.TestCase
