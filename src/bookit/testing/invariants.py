"""The promises of docs/design.md, checked against the event store after the fact.

`check_invariants` reads every stored event from the start and reports each broken promise it
can see: double bookings, unfair or overlapping offers, late claims, unfair auto-cancellations,
duplicate or missing emails, and read models that differ from a fresh replay. `InvariantChecker`
can also be fed one event at a time, as the property tests do after every step.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select

from bookit.aggregates.base import event_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_day import VenueDay
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.bootstrap import Service
from bookit.config import Rules
from bookit.projections.rebuild import verify
from bookit.projections.tables import emails_sent


def check_invariants(service: Service, *, read_models: bool = True) -> list[Violation]:
    """Every rule of docs/design.md the stored history breaks, in words; empty when all hold.

    The checks of `bookit check` (`bookit.audit.check.check_store`), plus the Maildir against
    the sent record and, with `read_models`, the read models against a fresh replay."""
    from bookit.audit.check import check_store

    problems = check_store(service.app, service.engine)
    problems += [Violation(p) for p in _email_problems(service)]
    if read_models:
        problems += [
            Violation(
                f"read model {d.table} differs from a fresh replay "
                f"({d.live_only} rows only live, {d.rebuilt_only} only rebuilt)"
            )
            for d in verify(service.app, service.engine)
        ]
    return problems


class Violation(str):
    """A broken promise in words, with `event_ids`: the stored events that prove it (an event's
    id is derived from its aggregate and version, as on the events exchange)."""

    event_ids: tuple[str, ...]

    def __new__(cls, text: str, event_ids: tuple[str, ...] = ()) -> Violation:
        shown = f"{text} [events: {', '.join(event_ids)}]" if event_ids else text
        violation = super().__new__(cls, shown)
        violation.event_ids = event_ids
        return violation


def event_ref(event: Any) -> str:
    return str(event_id(event.originator_id, event.originator_version))


def booked_ref(booking_id: str) -> str:
    """The id of a booking's first event, `Booked` (version 1)."""
    return str(event_id(UUID(booking_id), 1))


@dataclass
class _Booking:
    venue_id: str
    starts_at: datetime
    ends_at: datetime
    cancel_due: datetime | None
    confirmed_or_waived: bool
    reminders: int = 0
    delivered_at: datetime | None = None
    check_in_until: datetime | None = None
    checked_in: bool = False


@dataclass
class _Day:
    taken: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    holds: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    buffers: dict[str, int] = field(default_factory=dict)  # minutes kept around a booking or hold

    def is_free(self, starts_at: datetime, ends_at: datetime) -> bool:
        spans = [*self.taken.values(), *self.holds.values()]
        return not any(_overlap(span, (starts_at, ends_at)) for span in spans)

    def is_bookable(self, starts_at: datetime, ends_at: datetime, buffer: int) -> bool:
        """Free, and as far from everything as its buffer and theirs ask (rule 13)."""
        for key, (start, end) in [*self.taken.items(), *self.holds.items()]:
            pad = timedelta(minutes=max(buffer, self.buffers.get(key, 0)))
            if _overlap((start - pad, end + pad), (starts_at, ends_at)):
                return False
        return True


@dataclass
class _Queue:
    day_id: str
    starts_at: datetime
    ends_at: datetime
    waiting: dict[str, tuple[int, int]] = field(default_factory=dict)  # entry -> (priority, seq)
    deadlines: dict[str, datetime] = field(default_factory=dict)  # every entry offered (per freeing)
    offers: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)  # open: (opens, deadline)
    offered_by: str | None = None  # the command that made the open offers (one freeing)
    orders: dict[str, tuple[int, int]] = field(default_factory=dict)  # every entry's place
    closed: bool = False
    closes_at: datetime | None = None  # later than the start at a venue with check-in (rule 14)

    @property
    def closing(self) -> datetime:
        return self.closes_at or self.starts_at

    def latest_deadline(self, at: datetime) -> datetime:
        """An offer ends by the start; time a no-show freed after it, by the queue's closing."""
        return self.starts_at if at < self.starts_at else self.closing

    @property
    def open_offer(self) -> str | None:
        """The first open offer (the only one in mode `one`)."""
        return next(iter(self.offers), None)


class InvariantChecker:
    """Replays stored events one by one into a small model of its own and notes every breach.

    `feed` events in store order, then `report`. Rules about single events are checked as each
    arrives; "nobody waits for a free slot" is checked once each command's events are all in,
    since one command's save may pass through states that its last event puts right.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.violations: list[Violation] = []
        self.bookings: dict[str, _Booking] = {}
        self.live: dict[str, set[str]] = defaultdict(set)  # venue -> live booking ids
        self._live_on: dict[tuple[str, date], set[str]] = defaultdict(set)  # (venue, UTC day) -> ids
        self.days: dict[str, _Day] = defaultdict(_Day)
        self.queues: dict[str, _Queue] = {}
        self.queues_of_day: dict[str, list[str]] = defaultdict(list)
        self.venue_of_day: dict[str, str] = {}
        self.buffer_of_venue: dict[str, int] = defaultdict(int)  # the venue's rules now
        self._command: str | None = None
        self._last: Any = None  # the latest event fed (evidence for what a command left undone)
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
            Venue.RulesSet: self._rules_set,
            Booking.CheckedIn: self._checked_in,
            Booking.NoShow: self._no_show,
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
            WaitlistSlot.OfferTaken: self._taken_back,
        }

    def feed(self, event: Any) -> None:
        if event.command_id != self._command:
            self._command_done()
            self._command = event.command_id
        self._now = event.timestamp
        self._last = event
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    @property
    def topics(self) -> frozenset[str]:
        """The stored topics this checker reads; a reader may skip decoding any other event."""
        from eventsourcing.utils import get_topic

        return frozenset(get_topic(event_type) for event_type in self._handlers)

    def report(self) -> list[Violation]:
        """Every breach so far; may be called again after feeding more events."""
        self._command_done()
        return list(self.violations)

    def _breach(self, event: Any, what: str, *related: str) -> None:
        text = f"{event.timestamp:%Y-%m-%d %H:%M:%S} {type(event).__qualname__}: {what}"
        self.violations.append(Violation(text, (event_ref(event), *related)))

    # Bookings: never two live ones overlapping; auto-cancel only after a fair reminder

    def _booked(self, e: Booking.Booked) -> None:
        booking_id = str(e.originator_id)
        days = _days(e.starts_at, e.ends_at)
        # Only live bookings on the same UTC days can overlap: a store's worth of bookings of a
        # venue is not compared with each new one.
        nearby = set().union(*(self._live_on[(e.venue_id, day)] for day in days))
        for other in sorted(nearby):
            theirs = self.bookings[other]
            if _overlap((e.starts_at, e.ends_at), (theirs.starts_at, theirs.ends_at)):
                what = f"booking {booking_id} overlaps live booking {other} of {e.venue_id}"
                self._breach(e, what, booked_ref(other))
        self.live[e.venue_id].add(booking_id)
        for day in days:
            self._live_on[(e.venue_id, day)].add(booking_id)
        self.bookings[booking_id] = _Booking(
            e.venue_id, e.starts_at, e.ends_at, e.cancel_due, e.confirmed, check_in_until=e.check_in_until
        )

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
        for day in _days(booking.starts_at, booking.ends_at):
            self._live_on[(booking.venue_id, day)].discard(str(e.originator_id))

    def _rules_set(self, e: Venue.RulesSet) -> None:
        self.buffer_of_venue[e.venue_id] = int(e.rules.get("buffer_minutes") or 0)

    def _checked_in(self, e: Booking.CheckedIn) -> None:
        self.bookings[str(e.originator_id)].checked_in = True

    def _no_show(self, e: Booking.NoShow) -> None:
        """Rule 14: a checked-in booking is never released, nor one before its deadline."""
        self._ended(e)
        booking = self.bookings[str(e.originator_id)]
        if booking.checked_in:
            self._breach(e, f"booking {e.originator_id} was checked in, yet released as a no-show")
        if booking.check_in_until is None or e.timestamp < booking.check_in_until:
            self._breach(e, f"booking {e.originator_id} released before its check-in deadline")

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
            over = [k for k, span in day.taken.items() if _overlap(span, (e.starts_at, e.ends_at))]
            self._breach(
                e,
                f"booking {e.booking_id} took time already taken or held for the queue",
                booked_ref(e.booking_id),
                *(booked_ref(k) for k in over),
            )
        day.taken[e.booking_id] = (e.starts_at, e.ends_at)
        day.buffers[e.booking_id] = e.buffer_minutes

    def _released(self, e: VenueDay.IntervalReleased) -> None:
        self._day(e).taken.pop(e.booking_id, None)

    def _held(self, e: VenueDay.IntervalHeld) -> None:
        day = self._day(e)
        if not day.is_free(e.starts_at, e.ends_at):
            self._breach(e, f"entry {e.entry_id} was offered time that is not free")
        day.holds[e.entry_id] = (e.starts_at, e.ends_at)
        day.buffers[e.entry_id] = e.buffer_minutes

    def _lifted(self, e: VenueDay.HoldLifted) -> None:
        self._day(e).holds.pop(e.entry_id, None)

    def _day(self, e: Any) -> _Day:
        self._touched.add(str(e.originator_id))
        return self.days[str(e.originator_id)]

    # Queues: one offer at a time, in (priority, seq) order, never twice, never late

    def _queue_opened(self, e: WaitlistSlot.Opened) -> None:
        day_id = str(VenueDay.id_for(e.venue_id, e.date))
        self.queues[str(e.originator_id)] = _Queue(day_id, e.starts_at, e.ends_at, closes_at=e.closes_at)
        self.venue_of_day[day_id] = e.venue_id
        self.queues_of_day[day_id].append(str(e.originator_id))

    def _joined(self, e: WaitlistSlot.Joined) -> None:
        queue = self._queue(e)  # joining a queue for a free slot would leave it stuck
        queue.waiting[e.entry_id] = (e.priority, e.seq)
        queue.orders[e.entry_id] = (e.priority, e.seq)

    def _left(self, e: WaitlistSlot.Left) -> None:
        queue = self._queue(e)
        queue.waiting.pop(e.entry_id, None)
        queue.offers.pop(e.entry_id, None)

    def _notified(self, e: WaitlistSlot.Notified) -> None:
        """One freeing is offered by one command, to the first in line, then the next, ... (so
        in batch:N nobody outside the first N is offered before someone inside them), and never
        to more than the event says were offered together; no freeing while another is open."""
        queue = self._queue(e)
        if queue.offers and queue.offered_by != e.command_id:
            self._breach(e, f"second open offer in slot {e.originator_id} (first: {queue.open_offer})")
        elif len(queue.offers) >= e.together:
            self._breach(e, f"more than {e.together} offered together in slot {e.originator_id}")
        opens_at = e.opens_at or e.timestamp
        if not e.timestamp <= opens_at < e.deadline:
            self._breach(e, f"offer to {e.entry_id} opens at {opens_at}, outside [made, deadline)")
        if e.entry_id in queue.deadlines:
            self._breach(e, f"entry {e.entry_id} offered twice")
        elif e.entry_id not in queue.waiting:
            self._breach(e, f"entry {e.entry_id} offered while not waiting")
        elif min(queue.waiting.values()) != queue.waiting[e.entry_id]:
            first = min(queue.waiting, key=queue.waiting.__getitem__)
            self._breach(e, f"entry {e.entry_id} offered ahead of {first}, who was first in line")
        if queue.closed or e.timestamp >= queue.closing or e.deadline > queue.latest_deadline(e.timestamp):
            self._breach(e, f"offer in slot {e.originator_id} outlives its start {queue.starts_at}")
        queue.waiting.pop(e.entry_id, None)
        queue.deadlines[e.entry_id] = e.deadline
        queue.offers[e.entry_id] = (opens_at, e.deadline)
        queue.offered_by = e.command_id

    def _claimed(self, e: WaitlistSlot.Claimed) -> None:
        queue = self._queue(e)
        if e.entry_id not in queue.offers:
            self._breach(e, f"entry {e.entry_id} claimed without an open offer")
        elif e.timestamp >= queue.deadlines[e.entry_id]:
            self._breach(e, f"entry {e.entry_id} claimed after its deadline {queue.deadlines[e.entry_id]}")
        elif e.timestamp < queue.offers[e.entry_id][0]:
            self._breach(e, f"entry {e.entry_id} claimed before its window opened (quiet hours)")
        queue.offers.pop(e.entry_id, None)

    def _taken_back(self, e: WaitlistSlot.OfferTaken) -> None:
        """Those who lost a shared offer to a faster claim go back to their own place in line."""
        queue = self._queue(e)
        for entry_id in e.entry_ids:
            if queue.offers.pop(entry_id, None) is None:
                self._breach(e, f"entry {entry_id} told its offer was taken, but it had none open")
            queue.deadlines.pop(entry_id, None)
            queue.waiting[entry_id] = queue.orders[entry_id]

    def _expired(self, e: WaitlistSlot.Expired) -> None:
        deadline = self._queue(e).deadlines.get(e.entry_id)
        if deadline is None or e.timestamp < deadline:
            self._breach(e, f"entry {e.entry_id} expired before its deadline {deadline}")
        self._offer_ended(e)

    def _offer_ended(self, e: Any) -> None:
        self._queue(e).offers.pop(e.entry_id, None)

    def _closed(self, e: WaitlistSlot.Closed) -> None:
        queue = self._queue(e)
        if e.timestamp < queue.closing:
            self._breach(e, f"queue {e.originator_id} closed before its slot started")
        queue.closed = True
        queue.offers.clear()
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
                and not queue.offers
                and not queue.closed
                and self._now < queue.closing
                and self.days[queue.day_id].is_bookable(
                    queue.starts_at, queue.ends_at, self.buffer_of_venue[self.venue_of_day[queue.day_id]]
                )
            )
            if not stuck:
                self._stuck.discard(slot_id)
            elif slot_id not in self._stuck:
                self._stuck.add(slot_id)
                self.violations.append(
                    Violation(
                        f"{self._now:%Y-%m-%d %H:%M:%S} slot {slot_id} is free but its "
                        f"{len(queue.waiting)} waiting entries were offered nothing",
                        (event_ref(self._last),),
                    )
                )


def _days(starts_at: datetime, ends_at: datetime) -> list[date]:
    """The UTC days [starts_at, ends_at) touches."""
    first, last = starts_at.date(), (ends_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def notifications(app: Any, batch: int = 2000) -> Iterator[Any]:
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
