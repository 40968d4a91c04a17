"""`bookit demo`: a busy stretch of days on a fake clock, and the invariants that must survive it.

The simulation only does what people and the clock do: it sends commands through the bus, reads
the emails it is sent (the `emails_sent` record) and answers some of them, and ticks. A refusal
is an ordinary outcome (the slot was taken, the offer ran out). Everything random comes from one
seeded `random.Random`, command ids included, so a seed always tells the same story.

What must hold afterwards is checked by `bookit.testing.invariants.check_invariants`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bookit import commands as c
from bookit.adapters.mail import MaildirOutbox, Outbox
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import bootstrap
from bookit.config import Rules
from bookit.demo.no_shows import no_show_figures
from bookit.errors import BadInput, Refused
from bookit.localtime import parse_date, parse_time, to_utc
from bookit.projections.tables import emails_sent
from bookit.testing.invariants import InvariantChecker, check_invariants, notifications

# A Monday; a week or a month from here crosses the European change to summer time.
START = datetime(2027, 3, 22, 0, 0, tzinfo=UTC)
ZONES = ("Europe/London", "America/New_York", "Asia/Tokyo")
# Fixed slots per venue and day; 09:00-11:00 overlaps two others, so freed time is shared.
SLOTS = (
    ("08:00", "10:00"),
    ("09:00", "11:00"),
    ("10:00", "12:00"),
    ("13:00", "15:00"),
    ("15:00", "17:00"),
    ("18:00", "20:00"),
)
ADMIN = "desk@bookit.example"

Action = Callable[[], object]


class SimClock:
    """The fake clock every command of the simulation is stamped with."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Venue:
    venue_id: str
    tz: ZoneInfo


class Simulation:
    """A busy period for `venues` venues over `days` days, one tick every `tick_minutes`."""

    def __init__(
        self,
        home: str | Path,
        venues: int = 3,
        days: int = 7,
        seed: int = 7,
        *,
        tick_minutes: int = 15,
        slots: tuple[tuple[str, str], ...] = SLOTS,
        users: int = 40,
        attempts_per_slot: float = 3.0,
        start: datetime = START,
        rules: Rules | None = None,
        outbox: Outbox | None = None,
        check_in_minutes: int | None = None,
        no_show_rate: float = 0.15,
    ) -> None:
        home = Path(home)
        self.clock = SimClock(start)
        outbox = outbox or MaildirOutbox(home / "outbox")
        self.service = bootstrap(home, clock=self.clock, rules=rules, outbox=outbox)
        if self.service.app.recorder.max_notification_id():
            self.service.close()
            raise BadInput(
                f"the demo writes a simulated story into {home}; give it an empty --home", "not_empty"
            )
        self.rules = self.service.app.rules
        self.rng = random.Random(seed)
        self._ids = random.Random(f"command-ids/{seed}")
        self.start = start
        self.step = timedelta(minutes=tick_minutes)
        self.total_steps = days * 24 * 60 // tick_minutes
        self.slots = slots
        self.users = [f"user{n:02d}@example.org" for n in range(users)]
        # Every other person gives a display name when booking or queueing; the rest do not.
        self.names = {user: f"User {n:02d}" for n, user in enumerate(self.users) if n % 2 == 0}
        self.venues = [Venue(f"venue-{n + 1}", ZoneInfo(ZONES[n % len(ZONES)])) for n in range(venues)]
        # Booking attempts per venue per simulated day; each slot-date draws about this many.
        self.attempts_per_day = attempts_per_slot * len(slots)
        self.refused: Counter[str] = Counter()
        # What people remember of their own bookings and queue places: id -> (who, slot start)
        self.bookings: dict[str, tuple[str, datetime]] = {}
        self.entries: dict[str, tuple[str, datetime]] = {}
        self._agenda: list[tuple[datetime, int, Action]] = []
        self._queued = 0
        self._mail_position = 0
        # With check-in on (rule 14), owners check in when its email arrives, except this share.
        self.check_in_minutes = check_in_minutes
        self.no_show_rate = no_show_rate

    def close(self) -> None:
        self.service.close()

    def run(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        self._send(c.GrantAdmin, actor=SYSTEM, email=ADMIN)
        for venue in self.venues:
            self._send(
                c.RegisterVenue, actor=SYSTEM, name=venue.venue_id, tz=str(venue.tz), venue_id=venue.venue_id
            )
            if self.check_in_minutes is not None:
                self._send(
                    c.SetVenueRules,
                    actor=ADMIN,
                    venue_id=venue.venue_id,
                    check_in_minutes=self.check_in_minutes,
                )
        for step in range(self.total_steps):
            step_start = self.start + step * self.step
            step_end = step_start + self.step
            self._plan_step(step_start)
            while self._agenda and self._agenda[0][0] <= step_end:
                when, _, action = heapq.heappop(self._agenda)
                self.clock.now = max(self.clock.now, when)
                action()
                self._read_mail()
            self.clock.now = step_end
            self.service.bus.handle(c.build(c.Tick, command_id=self._next_id(), now=step_end))
            self._read_mail()
            if progress is not None:
                progress(1)
        return self.summary()

    def summary(self) -> dict[str, int]:
        topics = Counter(n.topic for n in notifications(self.service.app))
        with self.service.engine.connect() as conn:
            emails = len(conn.execute(select(emails_sent.c.message_id)).all())
        return {
            "bookings": topics["booking.booked"],
            "confirmed": topics["booking.confirmed"],
            "cancelled": topics["booking.cancelled"],
            "auto_cancelled": topics["booking.auto_cancelled"],
            "auto_cancel_skipped": topics["booking.auto_cancel_skipped"],
            "reminders": topics["booking.reminded"],
            "waitlist_joins": topics["waitlist.joined"],
            "offers": topics["waitlist.notified"],
            "claims": topics["waitlist.claimed"],
            "expired_offers": topics["waitlist.expired"],
            "declined": topics["waitlist.declined"],
            "left_waitlist": topics["waitlist.left"],
            "queues_closed": topics["waitlist.closed"],
            "refused": sum(self.refused.values()),
            "emails": emails,
            **no_show_figures(self.service.app),
        }

    # What people do of their own accord in one step: book (or queue), cancel, leave

    def _plan_step(self, step_start: datetime) -> None:
        share_of_day = self.step / timedelta(days=1)
        # Nobody cancels a booking, or leaves a queue, for a slot that has already started.
        self.bookings = {k: v for k, v in self.bookings.items() if v[1] > step_start}
        self.entries = {k: v for k, v in self.entries.items() if v[1] > step_start}
        for venue in self.venues:
            for _ in range(self._poisson(self.attempts_per_day * share_of_day)):
                user = self.rng.choice(self.users)
                self._at(self._within(step_start), partial(self._try_booking, venue, user))
        for _ in range(self._poisson(len(self.bookings) * 0.04 * share_of_day)):
            booking_id = self.rng.choice(sorted(self.bookings))
            self._at(self._within(step_start), partial(self._cancel, booking_id))
        for _ in range(self._poisson(len(self.entries) * 0.1 * share_of_day)):
            entry_id = self.rng.choice(sorted(self.entries))
            self._at(self._within(step_start), partial(self._leave, entry_id))

    def _try_booking(self, venue: Venue, user: str) -> None:
        today = self.clock.now.astimezone(venue.tz).date()
        start, end = self.rng.choice(self.slots)
        slot = {
            "venue_id": venue.venue_id,
            "date": (today + timedelta(days=self.rng.randint(1, 5))).isoformat(),
            "start": start,
            "end": end,
        }
        starts_at = to_utc(parse_date(slot["date"]), parse_time(start), str(venue.tz))
        name = self.names.get(user)
        booked = self._send(c.BookVenue, actor=user, purpose="simulated", name=name, **slot)
        if isinstance(booked, dict):
            self.bookings[booked["booking_id"]] = (user, starts_at)
        elif booked.code in ("slot_taken", "slot_held") and self.rng.random() < 0.8:
            if self.rng.random() < 0.1:  # the desk puts a regular customer ahead of the queue
                joined = self._send(c.JoinWaitlist, actor=ADMIN, user=user, priority=-1, name=name, **slot)
            else:
                joined = self._send(c.JoinWaitlist, actor=user, name=name, **slot)
            if isinstance(joined, dict):
                self.entries[joined["entry_id"]] = (user, starts_at)

    def _cancel(self, booking_id: str) -> None:
        if booking_id in self.bookings:
            owner, _ = self.bookings.pop(booking_id)
            self._send(c.CancelBooking, actor=owner, booking_id=booking_id, reason="plans changed")

    def _leave(self, entry_id: str) -> None:
        if entry_id in self.entries:
            user, _ = self.entries.pop(entry_id)
            self._send(c.LeaveWaitlist, actor=user, entry_id=entry_id)

    # What people do when an email arrives

    def _read_mail(self) -> None:
        query = (
            select(
                emails_sent.c.position, emails_sent.c.kind, emails_sent.c.recipient, emails_sent.c.subject_id
            )
            .where(emails_sent.c.position > self._mail_position)
            .order_by(emails_sent.c.position, emails_sent.c.kind, emails_sent.c.subject_id)
        )
        with self.service.engine.connect() as conn:
            rows = conn.execute(query).all()
        for position, kind, recipient, subject_id in rows:
            self._mail_position = max(self._mail_position, position)
            if kind == "reminder":
                self._answer_reminder(recipient, subject_id)
            elif kind == "waitlist-offer":
                self._answer_offer(recipient, subject_id)
            elif kind in ("waitlist-expired", "waitlist-closed"):
                self.entries.pop(subject_id, None)
            elif kind == "auto-cancelled":
                self.bookings.pop(subject_id, None)
            elif kind == "check-in":
                self._answer_check_in(recipient, subject_id)

    def _answer_reminder(self, owner: str, booking_id: str) -> None:
        """Most owners confirm, some cancel, some never answer (and are auto-cancelled)."""
        choice = self.rng.random()
        later = self.clock.now + timedelta(minutes=self.rng.uniform(5, 18 * 60))
        if choice < 0.7:
            self._at(later, partial(self._send, c.ConfirmBooking, actor=owner, booking_id=booking_id))
        elif choice < 0.8:
            self._at(later, partial(self._cancel, booking_id))

    def _answer_check_in(self, owner: str, booking_id: str) -> None:
        """Most owners turn up and check in within the window; the rest are no-shows."""
        self.bookings.pop(booking_id, None)
        if self.check_in_minutes is None or self.rng.random() < self.no_show_rate:
            return
        later = self.clock.now + timedelta(minutes=self.check_in_minutes * self.rng.uniform(0.0, 0.9))
        self._at(later, partial(self._send, c.CheckIn, actor=owner, booking_id=booking_id))

    def _answer_offer(self, user: str, entry_id: str) -> None:
        """Most claim in time, a few too late, some decline, some let the offer run out."""
        _, starts_at = self.entries.pop(entry_id, (user, self.clock.now))
        claim = partial(self._claim, user, entry_id, starts_at)
        window = self.rules.offer_window
        choice = self.rng.random()
        if choice < 0.6:
            self._at(self.clock.now + window * self.rng.uniform(0.02, 0.95), claim)
        elif choice < 0.7:
            self._at(self.clock.now + window * self.rng.uniform(1.0, 1.6), claim)
        elif choice < 0.85:
            later = self.clock.now + window * self.rng.uniform(0.02, 0.7)
            self._at(later, partial(self._send, c.DeclineOffer, actor=user, entry_id=entry_id))

    def _claim(self, user: str, entry_id: str, starts_at: datetime) -> None:
        claimed = self._send(c.ClaimOffer, actor=user, entry_id=entry_id)
        if isinstance(claimed, dict):
            self.bookings[claimed["booking_id"]] = (user, starts_at)

    # Plumbing

    def _send(self, cls: type[c.Command], **fields: Any) -> dict[str, Any] | Refused:
        command = c.build(cls, command_id=self._next_id(), **fields)
        try:
            return self.service.bus.handle(command)
        except Refused as refusal:
            self.refused[refusal.code] += 1
            return refusal

    def _at(self, when: datetime, action: Action) -> None:
        self._queued += 1
        heapq.heappush(self._agenda, (when, self._queued, action))

    def _within(self, step_start: datetime) -> datetime:
        return step_start + timedelta(seconds=self.rng.randrange(int(self.step.total_seconds())))

    def _next_id(self) -> UUID:
        return UUID(int=self._ids.getrandbits(128), version=4)

    def _poisson(self, mean: float) -> int:
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count


# Invariants, read back from the event store


__all__ = ["START", "InvariantChecker", "Simulation", "check_invariants"]
