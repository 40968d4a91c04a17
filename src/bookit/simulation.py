"""`bookit demo`: a busy stretch of days on a fake clock, and the invariants that must survive it.

The simulation only does what people and the clock do: it sends commands through the bus, reads
the emails it is sent (the `emails_sent` record) and answers some of them, and ticks. A refusal
is an ordinary outcome (the slot was taken, the offer ran out). Everything random comes from one
seeded `random.Random`, command ids included, so a seed always tells the same story.

`check_invariants` then reads the event store from the start and reports every broken promise
of DESIGN.md it can see: double bookings, unfair or overlapping offers, late claims, unfair
auto-cancellations, duplicate emails, and read models that differ from a fresh replay.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bookit import commands as c
from bookit.adapters.mail import MaildirOutbox
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue_day import VenueDay
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.bootstrap import Service, bootstrap
from bookit.config import Rules
from bookit.errors import BadInput, Refused
from bookit.localtime import parse_date, parse_time, to_utc
from bookit.projections.rebuild import verify
from bookit.projections.tables import emails_sent

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
    ) -> None:
        home = Path(home)
        self.clock = SimClock(start)
        self.service = bootstrap(home, clock=self.clock, rules=rules, outbox=MaildirOutbox(home / "outbox"))
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

    def close(self) -> None:
        self.service.close()

    def run(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        self._send(c.GrantAdmin, actor=SYSTEM, email=ADMIN)
        for venue in self.venues:
            self._send(
                c.RegisterVenue, actor=SYSTEM, name=venue.venue_id, tz=str(venue.tz), venue_id=venue.venue_id
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
        topics = Counter(n.topic for n in _notifications(self.service.app))
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
        booked = self._send(c.BookVenue, actor=user, purpose="simulated", **slot)
        if isinstance(booked, dict):
            self.bookings[booked["booking_id"]] = (user, starts_at)
        elif booked.code in ("slot_taken", "slot_held") and self.rng.random() < 0.8:
            if self.rng.random() < 0.1:  # the desk puts a regular customer ahead of the queue
                joined = self._send(c.JoinWaitlist, actor=ADMIN, user=user, priority=-1, **slot)
            else:
                joined = self._send(c.JoinWaitlist, actor=user, **slot)
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

    def _answer_reminder(self, owner: str, booking_id: str) -> None:
        """Most owners confirm, some cancel, some never answer (and are auto-cancelled)."""
        choice = self.rng.random()
        later = self.clock.now + timedelta(minutes=self.rng.uniform(5, 18 * 60))
        if choice < 0.7:
            self._at(later, partial(self._send, c.ConfirmBooking, actor=owner, booking_id=booking_id))
        elif choice < 0.8:
            self._at(later, partial(self._cancel, booking_id))

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


def check_invariants(service: Service) -> list[str]:
    """Every rule of DESIGN.md the stored history breaks, in words; empty when all hold."""
    checker = InvariantChecker(service.app.rules)
    for notification in _notifications(service.app):
        checker.feed(service.app.mapper.to_domain_event(notification))
    problems = checker.report()
    problems += _email_problems(service)
    problems += [
        f"read model {d.table} differs from a fresh replay "
        f"({d.live_only} rows only live, {d.rebuilt_only} only rebuilt)"
        for d in verify(service.app, service.engine)
    ]
    return problems


@dataclass
class _Booking:
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    cancel_due: datetime | None
    confirmed_or_waived: bool
    reminders: int = 0
    delivered_at: datetime | None = None


@dataclass
class _Day:
    taken: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    holds: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)

    def is_free(self, starts_at: datetime, ends_at: datetime) -> bool:
        spans = [*self.taken.values(), *self.holds.values()]
        return not any(_overlap(span, (starts_at, ends_at)) for span in spans)


@dataclass
class _Queue:
    day_id: str
    starts_at: datetime
    ends_at: datetime
    waiting: dict[str, tuple[int, int]] = field(default_factory=dict)  # entry -> (priority, seq)
    deadlines: dict[str, datetime] = field(default_factory=dict)  # every entry ever offered
    open_offer: str | None = None
    closed: bool = False


class InvariantChecker:
    """Replays stored events one by one into a small model of its own and notes every breach.

    `feed` events in store order, then `report`. Rules about single events are checked as each
    arrives; "nobody waits for a free slot" is checked once each command's events are all in,
    since one command's save may pass through states that its last event puts right.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.violations: list[str] = []
        self.bookings: dict[str, _Booking] = {}
        self.live: dict[str, set[str]] = defaultdict(set)  # venue -> live booking ids
        self.days: dict[str, _Day] = defaultdict(_Day)
        self.queues: dict[str, _Queue] = {}
        self.queues_of_day: dict[str, list[str]] = defaultdict(list)
        self._command: str | None = None
        self._now = datetime.min.replace(tzinfo=UTC)
        self._touched: set[str] = set()  # venue-days changed by the current command
        self._stuck: set[str] = set()  # queues already reported as waiting for a free slot
        self._handlers: dict[type, Callable[[Any], None]] = {
            Booking.Booked: self._booked,
            Booking.Reminded: self._reminded,
            Booking.ReminderDelivered: self._delivered,
            Booking.Confirmed: self._confirmed,
            Booking.AutoCancelWaived: self._confirmed,
            Booking.Cancelled: self._ended,
            Booking.AutoCancelled: self._auto_cancelled,
            VenueDay.IntervalTaken: self._taken,
            VenueDay.IntervalReleased: self._released,
            VenueDay.IntervalHeld: self._held,
            VenueDay.HoldLifted: self._lifted,
            WaitlistSlot.Opened: self._queue_opened,
            WaitlistSlot.Joined: self._joined,
            WaitlistSlot.Left: self._left,
            WaitlistSlot.Notified: self._notified,
            WaitlistSlot.Claimed: self._claimed,
            WaitlistSlot.Declined: self._offer_ended,
            WaitlistSlot.Expired: self._expired,
            WaitlistSlot.Closed: self._closed,
        }

    def feed(self, event: Any) -> None:
        if event.command_id != self._command:
            self._command_done()
            self._command = event.command_id
        self._now = event.timestamp
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def report(self) -> list[str]:
        """Every breach so far; may be called again after feeding more events."""
        self._command_done()
        return list(self.violations)

    def _breach(self, event: Any, what: str) -> None:
        self.violations.append(f"{event.timestamp:%Y-%m-%d %H:%M:%S} {type(event).__qualname__}: {what}")

    # Bookings: never two live ones overlapping; auto-cancel only after a fair reminder

    def _booked(self, e: Booking.Booked) -> None:
        booking_id = str(e.originator_id)
        for other in self.live[e.venue_id]:
            theirs = self.bookings[other]
            if _overlap((e.starts_at, e.ends_at), (theirs.starts_at, theirs.ends_at)):
                self._breach(e, f"booking {booking_id} overlaps live booking {other} of {e.venue_id}")
        self.live[e.venue_id].add(booking_id)
        self.bookings[booking_id] = _Booking(e.venue_id, e.starts_at, e.ends_at, e.cancel_due, e.confirmed)

    def _reminded(self, e: Booking.Reminded) -> None:
        booking = self.bookings[str(e.originator_id)]
        booking.reminders += 1
        if booking.reminders > 1:
            self._breach(e, f"booking {e.originator_id} reminded {booking.reminders} times")

    def _delivered(self, e: Booking.ReminderDelivered) -> None:
        self.bookings[str(e.originator_id)].delivered_at = e.delivered_at

    def _confirmed(self, e: Any) -> None:
        self.bookings[str(e.originator_id)].confirmed_or_waived = True

    def _ended(self, e: Any) -> None:
        booking = self.bookings[str(e.originator_id)]
        self.live[booking.venue_id].discard(str(e.originator_id))

    def _auto_cancelled(self, e: Booking.AutoCancelled) -> None:
        self._ended(e)
        booking = self.bookings[str(e.originator_id)]
        if booking.confirmed_or_waived or booking.cancel_due is None:
            self._breach(e, f"booking {e.originator_id} was confirmed, waived or needed no confirmation")
            return
        latest_fair = booking.cancel_due - self.rules.reminder_grace
        if booking.delivered_at is None or booking.delivered_at > latest_fair:
            self._breach(
                e,
                f"booking {e.originator_id}: reminder delivered {booking.delivered_at}, after {latest_fair}",
            )
        if e.timestamp < booking.cancel_due:
            self._breach(e, f"booking {e.originator_id} cancelled before its deadline {booking.cancel_due}")

    # The venue-day schedule: nothing taken or held over something taken or held

    def _taken(self, e: VenueDay.IntervalTaken) -> None:
        day = self._day(e)
        if not day.is_free(e.starts_at, e.ends_at):
            self._breach(e, f"booking {e.booking_id} took time already taken or held for the queue")
        day.taken[e.booking_id] = (e.starts_at, e.ends_at)

    def _released(self, e: VenueDay.IntervalReleased) -> None:
        self._day(e).taken.pop(e.booking_id, None)

    def _held(self, e: VenueDay.IntervalHeld) -> None:
        day = self._day(e)
        if not day.is_free(e.starts_at, e.ends_at):
            self._breach(e, f"entry {e.entry_id} was offered time that is not free")
        day.holds[e.entry_id] = (e.starts_at, e.ends_at)

    def _lifted(self, e: VenueDay.HoldLifted) -> None:
        self._day(e).holds.pop(e.entry_id, None)

    def _day(self, e: Any) -> _Day:
        self._touched.add(str(e.originator_id))
        return self.days[str(e.originator_id)]

    # Queues: one offer at a time, in (priority, seq) order, never twice, never late

    def _queue_opened(self, e: WaitlistSlot.Opened) -> None:
        day_id = str(VenueDay.id_for(e.venue_id, e.date))
        self.queues[str(e.originator_id)] = _Queue(day_id, e.starts_at, e.ends_at)
        self.queues_of_day[day_id].append(str(e.originator_id))

    def _joined(self, e: WaitlistSlot.Joined) -> None:
        queue = self._queue(e)  # joining a queue for a free slot would leave it stuck
        queue.waiting[e.entry_id] = (e.priority, e.seq)

    def _left(self, e: WaitlistSlot.Left) -> None:
        queue = self._queue(e)
        queue.waiting.pop(e.entry_id, None)
        if queue.open_offer == e.entry_id:
            queue.open_offer = None

    def _notified(self, e: WaitlistSlot.Notified) -> None:
        queue = self._queue(e)
        if queue.open_offer is not None:
            self._breach(e, f"second open offer in slot {e.originator_id} (first: {queue.open_offer})")
        if e.entry_id in queue.deadlines:
            self._breach(e, f"entry {e.entry_id} offered twice")
        elif e.entry_id not in queue.waiting:
            self._breach(e, f"entry {e.entry_id} offered while not waiting")
        elif min(queue.waiting.values()) != queue.waiting[e.entry_id]:
            first = min(queue.waiting, key=queue.waiting.__getitem__)
            self._breach(e, f"entry {e.entry_id} offered ahead of {first}, who was first in line")
        if queue.closed or e.timestamp >= queue.starts_at or e.deadline > queue.starts_at:
            self._breach(e, f"offer in slot {e.originator_id} outlives its start {queue.starts_at}")
        queue.waiting.pop(e.entry_id, None)
        queue.deadlines[e.entry_id] = e.deadline
        queue.open_offer = e.entry_id

    def _claimed(self, e: WaitlistSlot.Claimed) -> None:
        queue = self._queue(e)
        if queue.open_offer != e.entry_id:
            self._breach(e, f"entry {e.entry_id} claimed without an open offer")
        elif e.timestamp >= queue.deadlines[e.entry_id]:
            self._breach(e, f"entry {e.entry_id} claimed after its deadline {queue.deadlines[e.entry_id]}")
        queue.open_offer = None

    def _expired(self, e: WaitlistSlot.Expired) -> None:
        deadline = self._queue(e).deadlines.get(e.entry_id)
        if deadline is None or e.timestamp < deadline:
            self._breach(e, f"entry {e.entry_id} expired before its deadline {deadline}")
        self._offer_ended(e)

    def _offer_ended(self, e: Any) -> None:
        queue = self._queue(e)
        if queue.open_offer == e.entry_id:
            queue.open_offer = None

    def _closed(self, e: WaitlistSlot.Closed) -> None:
        queue = self._queue(e)
        if e.timestamp < queue.starts_at:
            self._breach(e, f"queue {e.originator_id} closed before its slot started")
        queue.closed, queue.open_offer = True, None
        queue.waiting.clear()

    def _queue(self, e: Any) -> _Queue:
        queue = self.queues[str(e.originator_id)]
        self._touched.add(queue.day_id)
        return queue

    def _command_done(self) -> None:
        """Freed time goes to the queue: nobody is left waiting for a slot that is free."""
        slot_ids = [slot_id for day_id in sorted(self._touched) for slot_id in self.queues_of_day[day_id]]
        self._touched.clear()
        for slot_id in slot_ids:
            queue = self.queues[slot_id]
            stuck = (
                queue.waiting
                and queue.open_offer is None
                and not queue.closed
                and self._now < queue.starts_at
                and self.days[queue.day_id].is_free(queue.starts_at, queue.ends_at)
            )
            if not stuck:
                self._stuck.discard(slot_id)
            elif slot_id not in self._stuck:
                self._stuck.add(slot_id)
                self.violations.append(
                    f"{self._now:%Y-%m-%d %H:%M:%S} slot {slot_id} is free but its "
                    f"{len(queue.waiting)} waiting entries were offered nothing"
                )


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _notifications(app: Any, batch: int = 2000) -> Iterator[Any]:
    position = 1
    while True:
        page = app.recorder.select_notifications(start=position, limit=batch)
        if not page:
            return
        yield from page
        position = page[-1].id + 1


def _email_problems(service: Service) -> list[str]:
    """One reminder email per booking, unique Message-IDs, and the Maildir holds what was sent."""
    with service.engine.connect() as conn:
        rows = conn.execute(
            select(emails_sent.c.message_id, emails_sent.c.kind, emails_sent.c.subject_id)
        ).all()
    problems = [
        f"booking {booking_id} got {count} reminder emails"
        for booking_id, count in Counter(r.subject_id for r in rows if r.kind == "reminder").items()
        if count > 1
    ]
    maildir = service.home / "outbox"
    if not (maildir / "new").is_dir():
        return problems  # mail went out by SMTP; the record above is all there is to check
    delivered: Counter[str] = Counter()
    reminded: Counter[str] = Counter()
    for headers in _maildir_headers(maildir):
        delivered[str(headers["Message-ID"])] += 1
        if headers["X-BookIT-Kind"] == "reminder":
            reminded[str(headers["X-BookIT-Booking"])] += 1
    problems += [f"Message-ID {mid} delivered {n} times" for mid, n in delivered.items() if n > 1]
    problems += [f"booking {b} has {n} reminders in the outbox" for b, n in reminded.items() if n > 1]
    recorded = {r.message_id for r in rows}
    if recorded != set(delivered):
        problems.append(
            f"outbox and sent record differ: {len(set(delivered) - recorded)} delivered unrecorded, "
            f"{len(recorded - set(delivered))} recorded undelivered"
        )
    return problems


def _maildir_headers(maildir: Path) -> Iterator[Any]:
    parser = BytesParser(policy=default_policy)
    for sub in ("new", "cur"):
        for path in sorted((maildir / sub).iterdir()):
            if not path.name.startswith("."):
                with path.open("rb") as file:
                    yield parser.parse(file, headersonly=True)
