"""One venue's schedule for one local date: the single place that knows what is taken.

Every booking, cancellation, hold and claim of that venue and date goes through this aggregate,
so two workers racing for overlapping intervals both load version N, both try to save N+1, and
the store's optimistic concurrency turns one of them away. No two live bookings of a venue ever
overlap, and a slot held for a waitlist offer cannot be booked around the queue (rule 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id
from bookit.errors import Refused


@dataclass(frozen=True)
class Interval:
    starts_at: datetime
    ends_at: datetime

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        return self.starts_at < ends_at and starts_at < self.ends_at

    def widened(self, minutes: int) -> Interval:
        pad = timedelta(minutes=minutes)
        return Interval(self.starts_at - pad, self.ends_at + pad)


@dataclass(frozen=True)
class Taken(Interval):
    user: str
    buffer: int = 0  # minutes kept free before and after it


@dataclass(frozen=True)
class Hold(Interval):
    until: datetime
    buffer: int = 0
    # The others offered the same freeing (batch/all modes); the hold is kept under the first.
    shared_with: tuple[str, ...] = ()


class VenueDay(DomainAggregate):
    TOPIC = "bookit.VenueDay"

    class Created(DomainAggregate.Created):
        TOPIC = "venue_day.created"

    class Opened(Created):
        TOPIC = "venue_day.opened"
        venue_id: str
        date: str

    class IntervalTaken(DomainAggregate.Event):
        TOPIC = "venue_day.interval_taken"
        booking_id: str
        user: str
        starts_at: datetime
        ends_at: datetime
        buffer_minutes: int = 0

        def apply(self, day: VenueDay) -> None:
            day.taken[self.booking_id] = Taken(self.starts_at, self.ends_at, self.user, self.buffer_minutes)

    class IntervalReleased(DomainAggregate.Event):
        TOPIC = "venue_day.interval_released"
        booking_id: str

        def apply(self, day: VenueDay) -> None:
            del day.taken[self.booking_id]

    class IntervalHeld(DomainAggregate.Event):
        TOPIC = "venue_day.interval_held"
        entry_id: str
        starts_at: datetime
        ends_at: datetime
        until: datetime
        buffer_minutes: int = 0
        shared_with: list[str] | None = None

        def apply(self, day: VenueDay) -> None:
            shared = tuple(self.shared_with or ())
            day.holds[self.entry_id] = Hold(
                self.starts_at, self.ends_at, self.until, self.buffer_minutes, shared
            )

    class HoldLifted(DomainAggregate.Event):
        TOPIC = "venue_day.hold_lifted"
        entry_id: str

        def apply(self, day: VenueDay) -> None:
            del day.holds[self.entry_id]

    class QueueNoted(DomainAggregate.Event):
        """A waitlist exists for this interval; freed time must be offered to it first."""

        TOPIC = "venue_day.queue_noted"
        slot_id: str
        starts_at: datetime
        ends_at: datetime

        def apply(self, day: VenueDay) -> None:
            day.queues[self.slot_id] = Interval(self.starts_at, self.ends_at)

    def __init__(self, venue_id: str, date: str, **_: Any) -> None:
        self.venue_id = venue_id
        self.date = date
        self.taken: dict[str, Taken] = {}
        self.holds: dict[str, Hold] = {}
        self.queues: dict[str, Interval] = {}

    @staticmethod
    def id_for(venue_id: str, date: str) -> UUID:
        return derived_id("venue-day", venue_id, date)

    @classmethod
    def open(cls, venue_id: str, date: str, cause: Cause) -> VenueDay:
        return cls._start(cls.Opened, cls.id_for(venue_id, date), cause, venue_id=venue_id, date=date)

    def conflict(
        self,
        starts_at: datetime,
        ends_at: datetime,
        *,
        ignoring_hold: str | None = None,
        buffer: int = 0,
        over_buffers: bool = False,
    ) -> Refused | None:
        """Why [starts_at, ends_at) cannot be booked now, or None if it can. `buffer` is the
        changeover the new interval asks for; `over_buffers` ignores every buffer (admins)."""
        if any(t.overlaps(starts_at, ends_at) for t in self.taken.values()):
            return Refused(
                "slot is taken; join its waitlist to be offered it if it frees up "
                "(`bookit waitlist join`, POST /api/waitlist)",
                "slot_taken",
            )
        for entry_id, hold in self.holds.items():
            mine = ignoring_hold is not None and (
                entry_id == ignoring_hold or ignoring_hold in hold.shared_with
            )
            if not mine and hold.overlaps(starts_at, ends_at):
                return Refused(
                    "slot is held for someone on the waitlist; join the waitlist instead",
                    "slot_held",
                )
        if over_buffers:
            return None
        near: list[Taken | Hold] = [*self.taken.values()]
        near += [h for entry_id, h in self.holds.items() if ignoring_hold not in (entry_id, *h.shared_with)]
        for other in near:
            pad = max(other.buffer, buffer)
            if pad and other.widened(pad).overlaps(starts_at, ends_at):
                return Refused(
                    f"too close to another booking: {pad} minutes are kept free between bookings here",
                    "buffer_conflict",
                )
        return None

    def is_free(self, starts_at: datetime, ends_at: datetime, buffer: int = 0) -> bool:
        return self.conflict(starts_at, ends_at, buffer=buffer) is None

    def booked_by(self, user: str, starts_at: datetime, ends_at: datetime) -> bool:
        return any(t.user == user and t.overlaps(starts_at, ends_at) for t in self.taken.values())

    def check_queueable(self, user: str, starts_at: datetime, ends_at: datetime, buffer: int = 0) -> None:
        """A waitlist is for time someone else holds: refused to whoever holds it already, and
        while it is free (book it instead)."""
        if self.booked_by(user, starts_at, ends_at):
            raise Refused("you already have a booking for this slot", "already_booked")
        if self.is_free(starts_at, ends_at, buffer):
            raise Refused("slot is free: book it instead of joining its waitlist", "slot_free")

    def take(
        self,
        booking_id: UUID,
        user: str,
        starts_at: datetime,
        ends_at: datetime,
        cause: Cause,
        *,
        claiming_entry: str | None = None,
        buffer: int = 0,
        over_buffers: bool = False,
    ) -> None:
        """Take the interval for a booking; a claim turns its own hold into the booking (with
        the buffer the hold was offered under)."""
        held_as = self._hold_key(claiming_entry) if claiming_entry is not None else None
        hold = self.holds.get(held_as) if held_as is not None else None
        if hold is not None:
            buffer = hold.buffer
        refusal = self.conflict(
            starts_at, ends_at, ignoring_hold=claiming_entry, buffer=buffer, over_buffers=over_buffers
        )
        if refusal:
            raise refusal
        if held_as is not None:
            self._record(self.HoldLifted, cause, entry_id=held_as)
        self._record(
            self.IntervalTaken,
            cause,
            booking_id=str(booking_id),
            user=user,
            starts_at=starts_at,
            ends_at=ends_at,
            buffer_minutes=buffer,
        )

    def release(self, booking_id: UUID, cause: Cause) -> Interval | None:
        """Free a booking's interval; returns what may have become bookable (with its buffer)."""
        taken = self.taken.get(str(booking_id))
        if taken is None:
            return None
        self._record(self.IntervalReleased, cause, booking_id=str(booking_id))
        return taken.widened(taken.buffer)

    def hold(
        self,
        entry_id: str,
        interval: Interval,
        until: datetime,
        cause: Cause,
        buffer: int = 0,
        *,
        shared_with: tuple[str, ...] = (),
    ) -> None:
        """Hold the interval for an offer; `shared_with` names the others offered the same
        freeing, any of whom may turn the hold into their booking."""
        refusal = self.conflict(interval.starts_at, interval.ends_at, buffer=buffer)
        if refusal:
            raise refusal
        extra = {"shared_with": list(shared_with)} if shared_with else {}
        self._record(
            self.IntervalHeld,
            cause,
            entry_id=entry_id,
            starts_at=interval.starts_at,
            ends_at=interval.ends_at,
            until=until,
            buffer_minutes=buffer,
            **extra,
        )

    def lift_hold(self, entry_id: str, cause: Cause) -> Interval | None:
        """Lift the hold `entry_id` has a share in; the caller lifts a shared hold only once
        nobody offered it is still holding it."""
        key = self._hold_key(entry_id)
        if key is None:
            return None
        hold = self.holds[key]
        self._record(self.HoldLifted, cause, entry_id=key)
        return hold.widened(hold.buffer)

    def _hold_key(self, entry_id: str) -> str | None:
        if entry_id in self.holds:
            return entry_id
        return next((key for key, hold in self.holds.items() if entry_id in hold.shared_with), None)

    def note_queue(self, slot_id: UUID, interval: Interval, cause: Cause) -> None:
        if str(slot_id) not in self.queues:
            self._record(
                self.QueueNoted,
                cause,
                slot_id=str(slot_id),
                starts_at=interval.starts_at,
                ends_at=interval.ends_at,
            )

    def queues_overlapping(self, interval: Interval) -> list[str]:
        """Waitlisted slots that the freed interval touches, earliest first (deterministic)."""
        hits = [
            (q.starts_at, q.ends_at, slot_id)
            for slot_id, q in self.queues.items()
            if q.overlaps(interval.starts_at, interval.ends_at)
        ]
        return [slot_id for _, _, slot_id in sorted(hits)]
