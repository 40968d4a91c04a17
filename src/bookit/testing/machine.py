"""`FairnessMachine`: a hypothesis state machine over the whole service, to subclass.

It books, queues (some entries put ahead by the desk), leaves, declines, claims (some to the
second around the deadline), cancels (some at the last minute), confirms and ticks over two
venues whose slots overlap, with the clock jumping (also to local midnight and DST changes).
After every step the stored history must keep every promise of `InvariantChecker` (the checks
of `bookit check`), and the read models must show no double booking and at most one open offer
per slot. Each rule also checks the outcome a person would see (a claim in time is accepted, a
claim at the deadline is refused, a held slot cannot be booked around the queue).

Subclass it to test your own configuration: set `rules`, `venues`, `slots`, `users`, `day`,
`start`, and add `@rule`s and `@invariant`s of your own; `self.send(...)`, `self.service`,
`self.clock` and `self.checker` are there for them.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.venue_day import VenueDay
from bookit.config import Rules
from bookit.errors import BookitError
from bookit.localtime import parse_date, parse_time, to_utc
from bookit.projections import queries
from bookit.projections.tables import waitlist_entries
from bookit.testing.clock import FakeClock
from bookit.testing.invariants import InvariantChecker
from bookit.testing.scratch import MemoryOutbox, scratch_service
from bookit.testing.strategies import Jump, clock_jumps

Slot = tuple[str, str]
_PICK = st.integers(0, 10**6)


class FairnessMachine(RuleBasedStateMachine):
    # What a subclass may change. Four hours before the slots: bookings are reminded at once,
    # some are auto-cancelled at start - 2 h, offers run out, and the slots start (closing
    # their queues) within a few steps.
    bookit_rules: ClassVar[Rules | None] = None  # (`rules` is the state machine's own word)
    venues: ClassVar[tuple[tuple[str, str], ...]] = (("hall", "Europe/London"), ("court", "Europe/London"))
    slots: ClassVar[tuple[Slot, ...]] = (
        ("10:00", "11:00"),
        ("10:30", "11:30"),
        ("11:00", "12:00"),
        ("10:00", "12:00"),
    )
    users: ClassVar[tuple[str, ...]] = tuple(f"user{n}@example.org" for n in range(4))
    desk: ClassVar[str] = "desk@example.org"
    day: ClassVar[str] = "2026-12-02"
    start: ClassVar[datetime] = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)

    def __init__(self) -> None:
        super().__init__()
        self._home = tempfile.TemporaryDirectory(prefix="bookit-fairness-")
        self.clock = FakeClock(self.start)
        self.outbox = MemoryOutbox()
        self.service = scratch_service(
            self._home.name, self.bookit_rules, clock=self.clock, outbox=self.outbox
        )
        self.checker = InvariantChecker(self.service.app.rules)
        self._position = 0
        self._commands = 0
        self.bookings: dict[str, str] = {}  # booking -> owner
        self.entries: dict[str, str] = {}  # entry -> user
        for venue, tz in self.venues:
            self.send(c.RegisterVenue, actor=SYSTEM, name=venue, tz=tz, venue_id=venue)
        self.send(c.GrantAdmin, actor=SYSTEM, email=self.desk)

    def teardown(self) -> None:
        self.service.close()
        self._home.cleanup()

    # Helpers for rules of one's own

    def send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any] | BookitError:
        """Run a command; its outcome, or the refusal. Ids come from a counter, so Hypothesis
        can replay the same steps as the same story."""
        self._commands += 1
        try:
            return self.service.bus.handle(c.build(cls, command_id=UUID(int=self._commands), **fields))
        except BookitError as error:
            return error

    def tz_of(self, venue: str) -> str:
        return dict(self.venues)[venue]

    def instants(self, venue: str, slot: Slot) -> tuple[datetime, datetime]:
        day = parse_date(self.day)
        start, end = (to_utc(day, parse_time(t), self.tz_of(venue)) for t in slot)
        return start, end

    def open_offer_of(self, entry_id: str) -> datetime | None:
        """The deadline of the entry's open offer, as the stored history has it."""
        for queue in self.checker.queues.values():
            if entry_id in queue.offers:
                return queue.deadlines[entry_id]
        return None

    def open_offers(self) -> list[str]:
        return sorted(e for q in self.checker.queues.values() for e in q.offers)

    def held(self, venue: str, slot: Slot) -> bool:
        day = self.checker.days[str(VenueDay.id_for(venue, self.day))]
        starts_at, ends_at = self.instants(venue, slot)
        return any(s < ends_at and starts_at < e for s, e in day.holds.values())

    def pick(self, among: dict[str, str], n: int) -> str:
        keys = sorted(among)
        return keys[n % len(keys)]

    @initialize(data=st.data())
    def a_busy_morning(self, data: st.DataObject) -> None:
        # Queues only form behind bookings: start every story with some of both, each join at
        # the venue of one of the bookings, so that most of them find their slot taken.
        venue_names = [v for v, _ in self.venues]
        booked = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(self.users), st.sampled_from(venue_names), st.sampled_from(self.slots)
                ),
                min_size=2,
                max_size=6,
            )
        )
        joins = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(self.users), st.integers(0, 5), st.sampled_from(self.slots), st.booleans()
                ),
                min_size=2,
                max_size=8,
            )
        )
        for user, venue, slot in booked:
            self.book(user, venue, slot)
        for user, which, slot, by_the_desk in joins:
            self.join(user, booked[which % len(booked)][1], slot, by_the_desk)

    # The clock

    @rule(minutes=st.integers(1, 40))
    def tick(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        self.send(c.Tick, now=self.clock.now)

    @rule(seconds=st.integers(0, 15 * 60))
    def time_passes_without_a_tick(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(jump=clock_jumps(), venue=st.data())
    def clock_jumps_to_midnight_or_a_dst_change(self, jump: Jump, venue: st.DataObject) -> None:
        tz = self.tz_of(venue.draw(st.sampled_from([v for v, _ in self.venues])))
        self.clock.set(jump.after(self.clock.now, tz))
        self.send(c.Tick, now=self.clock.now)

    @rule(data=st.data(), minutes_before=st.integers(0, 20))
    def clock_nears_a_slot_start(self, data: st.DataObject, minutes_before: int) -> None:
        # Slot starts are where queues close and offers are cut short: worth landing near.
        venue = data.draw(st.sampled_from([v for v, _ in self.venues]))
        starts_at = self.instants(venue, data.draw(st.sampled_from(self.slots)))[0]
        self.clock.set(max(self.clock.now, starts_at - timedelta(minutes=minutes_before)))

    # Bookings

    @rule(data=st.data())
    def book_a_slot(self, data: st.DataObject) -> None:
        self.book(
            data.draw(st.sampled_from(self.users)),
            data.draw(st.sampled_from([v for v, _ in self.venues])),
            data.draw(st.sampled_from(self.slots)),
        )

    def book(self, user: str, venue: str, slot: Slot) -> None:
        held = self.held(venue, slot)
        start, end = slot
        outcome = self.send(c.BookVenue, actor=user, venue_id=venue, date=self.day, start=start, end=end)
        if isinstance(outcome, dict):
            assert not held, "a slot held for the waitlist was booked directly"
            self.bookings[outcome["booking_id"]] = user

    @precondition(lambda self: self.bookings)
    @rule(n=_PICK)
    def cancel(self, n: int) -> None:
        self.cancel_booking(self.pick(self.bookings, n))

    def cancel_booking(self, booking_id: str) -> None:
        booking = self.checker.bookings[booking_id]
        live = booking_id in self.checker.live[booking.venue_id]
        outcome = self.send(c.CancelBooking, actor=self.bookings[booking_id], booking_id=booking_id)
        assert isinstance(outcome, dict) == (live and self.clock.now < booking.starts_at), outcome

    @precondition(lambda self: self.bookings)
    @rule(n=_PICK, minutes_before=st.integers(1, 20))
    def last_minute_cancellation(self, n: int, minutes_before: int) -> None:
        # Time freed just before a slot starts: its offer is cut short by the start (rule 6).
        booking_id = self.pick(self.bookings, n)
        starts_at = self.checker.bookings[booking_id].starts_at
        self.clock.set(max(self.clock.now, starts_at - timedelta(minutes=minutes_before)))
        self.cancel_booking(booking_id)

    @precondition(lambda self: self.bookings)
    @rule(n=_PICK)
    def confirm(self, n: int) -> None:
        booking_id = self.pick(self.bookings, n)
        self.send(c.ConfirmBooking, actor=self.bookings[booking_id], booking_id=booking_id)

    # The waitlist

    @rule(data=st.data(), by_the_desk=st.booleans())
    def join_a_queue(self, data: st.DataObject, by_the_desk: bool) -> None:
        self.join(
            data.draw(st.sampled_from(self.users)),
            data.draw(st.sampled_from([v for v, _ in self.venues])),
            data.draw(st.sampled_from(self.slots)),
            by_the_desk,
        )

    def join(self, user: str, venue: str, slot: Slot, by_the_desk: bool) -> None:
        start, end = slot
        where = {"venue_id": venue, "date": self.day, "start": start, "end": end}
        if by_the_desk:
            outcome = self.send(c.JoinWaitlist, actor=self.desk, user=user, priority=-1, **where)
        else:
            outcome = self.send(c.JoinWaitlist, actor=user, **where)
        if isinstance(outcome, dict):
            self.entries[outcome["entry_id"]] = user

    @precondition(lambda self: self.entries)
    @rule(n=_PICK)
    def claim(self, n: int) -> None:
        self.claim_entry(self.pick(self.entries, n))

    @precondition(lambda self: self.open_offers())
    @rule(n=_PICK, nudge=st.sampled_from([None, -1, 0, 1]))
    def claim_an_open_offer(self, n: int, nudge: int | None) -> None:
        offers = self.open_offers()
        entry_id = offers[n % len(offers)]
        deadline = self.open_offer_of(entry_id)
        if nudge is not None and deadline is not None:
            # To the second around the deadline, with no tick in between (rule 6).
            self.clock.set(max(self.clock.now, deadline + timedelta(seconds=nudge)))
        self.claim_entry(entry_id)

    def claim_entry(self, entry_id: str) -> None:
        deadline = self.open_offer_of(entry_id)
        opens_at = next(
            (q.offers[entry_id][0] for q in self.checker.queues.values() if entry_id in q.offers), None
        )
        outcome = self.send(c.ClaimOffer, actor=self.entries[entry_id], entry_id=entry_id)
        if deadline is None:
            assert isinstance(outcome, BookitError), "claimed without an open offer"
        elif self.clock.now >= deadline:
            assert isinstance(outcome, BookitError) and outcome.code == "offer_expired", outcome
        elif opens_at is not None and self.clock.now < opens_at:
            assert isinstance(outcome, BookitError), "claimed before the offer's window opened"
        else:
            assert isinstance(outcome, dict), f"a claim in time was refused: {outcome}"
            self.bookings[outcome["booking_id"]] = self.entries[entry_id]

    @precondition(lambda self: self.entries)
    @rule(n=_PICK)
    def decline(self, n: int) -> None:
        entry_id = self.pick(self.entries, n)
        offered = self.open_offer_of(entry_id) is not None
        outcome = self.send(c.DeclineOffer, actor=self.entries[entry_id], entry_id=entry_id)
        assert isinstance(outcome, dict) == offered, outcome

    @precondition(lambda self: self.entries)
    @rule(n=_PICK)
    def leave(self, n: int) -> None:
        entry_id = self.pick(self.entries, n)
        in_line = any(entry_id in q.waiting or entry_id in q.offers for q in self.checker.queues.values())
        outcome = self.send(c.LeaveWaitlist, actor=self.entries[entry_id], entry_id=entry_id)
        assert isinstance(outcome, dict) == in_line, outcome

    # After every step

    @invariant()
    def stored_history_keeps_every_promise(self) -> None:
        app = self.service.app
        for notification in app.recorder.select_notifications(start=self._position + 1, limit=10**6):
            self.checker.feed(app.mapper.to_domain_event(notification))
            self._position = notification.id
        problems = self.checker.report()
        assert not problems, "\n".join(problems)

    @invariant()
    def no_slot_is_booked_twice(self) -> None:
        live: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in queries.booking_list(self.service.engine):
            if row["status"] in ("booked", "confirmed"):
                live[row["venue_id"]].append((row["starts_at"], row["ends_at"]))
        for spans in live.values():
            spans.sort()
            for (_, first_end), (second_start, _) in zip(spans, spans[1:], strict=False):
                assert second_start >= first_end, "two live bookings of a venue overlap"

    @invariant()
    def at_most_one_open_offer_per_slot(self) -> None:
        with self.service.engine.connect() as conn:
            offered = [
                row.slot_id for row in conn.execute(waitlist_entries.select()) if row.status == "offered"
            ]
        assert len(offered) == len(set(offered))
