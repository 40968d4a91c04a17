"""The queue for one exact slot (venue, local date, start, end), and how it is offered.

Order is (priority, join order); join order is a sequence number this aggregate hands out, so
two people joining in the same millisecond still have a strict order. At most one offer is open
at a time; an entry that was offered leaves the queue for good (claimed, declined or expired),
so nobody is offered the same freeing twice. Leaving never renumbers anybody else.

The state holds the entries still in the queue, plus those the latest event took out of it. An
entry that has left the queue is forgotten when the next event is applied: a busy queue's
snapshot then stays the size of its queue, not of its history. It is kept until then because an
email about that event (an expiry, a claim, a closed queue) reads the entry from the slot as it
was at the event. What a forgotten entry was (who, and how it ended) is in the WaitlistTicket and
the read models.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id
from bookit.aggregates.venue_day import Interval
from bookit.errors import Refused

WAITING = "waiting"
OFFERED = "offered"
CLAIMED = "claimed"
LEFT = "left"
DECLINED = "declined"
EXPIRED = "expired"
CLOSED = "closed"

ACTIVE = (WAITING, OFFERED)


@dataclass(frozen=True)
class Entry:
    entry_id: str
    user: str
    priority: int
    seq: int
    status: str = WAITING
    deadline: datetime | None = None
    name: str = ""  # the display name given on joining

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.seq)


class WaitlistSlot(DomainAggregate):
    TOPIC = "bookit.WaitlistSlot"

    class Created(DomainAggregate.Created):
        TOPIC = "waitlist.created"

    class Opened(Created):
        TOPIC = "waitlist.opened"
        venue_id: str
        date: str
        start: str
        end: str
        starts_at: datetime
        ends_at: datetime

    class Joined(DomainAggregate.Event):
        TOPIC = "waitlist.joined"
        entry_id: str
        user: str
        priority: int
        seq: int
        name: str = ""  # none before names were kept

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            entry = Entry(self.entry_id, self.user, self.priority, self.seq, name=self.name)
            slot.entries[self.entry_id] = entry
            slot.next_seq = self.seq + 1

    class Left(DomainAggregate.Event):
        TOPIC = "waitlist.left"
        entry_id: str

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            slot._set_status(self.entry_id, LEFT)

    class Notified(DomainAggregate.Event):
        """The entry is offered the slot until `deadline`."""

        TOPIC = "waitlist.notified"
        entry_id: str
        deadline: datetime

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            entry = slot.entries[self.entry_id]
            slot.entries[self.entry_id] = replace(entry, status=OFFERED, deadline=self.deadline)

    class Claimed(DomainAggregate.Event):
        TOPIC = "waitlist.claimed"
        entry_id: str
        booking_id: str

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            slot._set_status(self.entry_id, CLAIMED)

    class Declined(DomainAggregate.Event):
        TOPIC = "waitlist.declined"
        entry_id: str

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            slot._set_status(self.entry_id, DECLINED)

    class Expired(DomainAggregate.Event):
        TOPIC = "waitlist.expired"
        entry_id: str

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            slot._set_status(self.entry_id, EXPIRED)

    class Closed(DomainAggregate.Event):
        """The slot has started: the queue is closed and those still in it are told."""

        TOPIC = "waitlist.closed"
        entry_ids: list[str]

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            slot.closed = True
            for entry_id in self.entry_ids:
                slot._set_status(entry_id, CLOSED)

    def __init__(
        self,
        venue_id: str,
        date: str,
        start: str,
        end: str,
        starts_at: datetime,
        ends_at: datetime,
        **_: Any,
    ) -> None:
        self.venue_id = venue_id
        self.date = date
        self.start = start
        self.end = end
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.entries: dict[str, Entry] = {}
        self.next_seq = 1
        self.closed = False

    @staticmethod
    def id_for(venue_id: str, date: str, start: str, end: str) -> UUID:
        return derived_id("waitlist", venue_id, date, start, end)

    @classmethod
    def open(
        cls,
        venue_id: str,
        date: str,
        start: str,
        end: str,
        starts_at: datetime,
        ends_at: datetime,
        cause: Cause,
    ) -> WaitlistSlot:
        return cls._start(
            cls.Opened,
            cls.id_for(venue_id, date, start, end),
            cause,
            venue_id=venue_id,
            date=date,
            start=start,
            end=end,
            starts_at=starts_at,
            ends_at=ends_at,
        )

    # Queries

    @property
    def open_offer(self) -> Entry | None:
        return next((e for e in self.entries.values() if e.status == OFFERED), None)

    def waiting(self) -> list[Entry]:
        """Those still waiting, in the order they will be offered."""
        return sorted((e for e in self.entries.values() if e.status == WAITING), key=lambda e: e.order)

    def position(self, entry_id: str) -> int | None:
        """1 for the next in line; None once the entry is out of the queue."""
        entry = self.entries.get(entry_id)
        if entry is None or entry.status not in ACTIVE:
            return None
        if entry.status == OFFERED:
            return 0
        return 1 + sum(1 for e in self.waiting() if e.order < entry.order)

    def is_active(self, entry_id: str) -> bool:
        entry = self.entries.get(entry_id)
        return entry is not None and entry.status in ACTIVE

    def interval_overlaps(self, interval: Interval) -> bool:
        return interval.overlaps(self.starts_at, self.ends_at)

    def entry(self, entry_id: str) -> Entry:
        """An entry in the queue, or one the latest event took out of it (KeyError otherwise)."""
        return self.entries[entry_id]

    # Commands

    def join(self, entry_id: UUID, user: str, priority: int, cause: Cause, name: str = "") -> int:
        if self.closed or cause.at >= self.starts_at:
            raise Refused("the waitlist for this slot is closed: the slot has started", "queue_closed")
        if any(e.user == user and e.status in ACTIVE for e in self.entries.values()):
            raise Refused("you are already in the waitlist for this slot", "already_waiting")
        self._record(
            self.Joined,
            cause,
            entry_id=str(entry_id),
            user=user,
            priority=priority,
            seq=self.next_seq,
            name=name,
        )
        position = self.position(str(entry_id))
        assert position is not None
        return position

    def leave(self, entry_id: str, cause: Cause) -> bool:
        """Leave the queue; returns True if an open offer was given up (to pass it on)."""
        entry = self._owned_entry(entry_id, cause, "leave")
        if entry.status not in ACTIVE:
            raise Refused("this entry is no longer in the queue", "not_waiting")
        self._record(self.Left, cause, entry_id=entry_id)
        return entry.status == OFFERED

    def offer_next(self, window: timedelta, cause: Cause) -> Entry | None:
        """Offer the slot to the first in line, until now + window but never past its start."""
        if self.open_offer is not None or self.closed or cause.at >= self.starts_at:
            return None
        waiting = self.waiting()
        if not waiting:
            return None
        first = waiting[0]
        deadline = min(cause.at + window, self.starts_at)
        self._record(self.Notified, cause, entry_id=first.entry_id, deadline=deadline)
        return self.entries[first.entry_id]

    def claim(self, entry_id: str, booking_id: UUID, cause: Cause) -> None:
        entry = self._owned_entry(entry_id, cause, "claim")
        if entry.status != OFFERED:
            raise Refused(f"there is no open offer for this entry (it is {entry.status})", "no_offer")
        assert entry.deadline is not None
        if cause.at >= entry.deadline:
            # Refused to the second, whether or not a tick has expired it yet (rule 6).
            raise Refused(f"offer expired at {entry.deadline:%Y-%m-%d %H:%M:%S} UTC", "offer_expired")
        self._record(self.Claimed, cause, entry_id=entry_id, booking_id=str(booking_id))

    def decline(self, entry_id: str, cause: Cause) -> None:
        entry = self._owned_entry(entry_id, cause, "decline")
        if entry.status != OFFERED:
            raise Refused(f"there is no open offer for this entry (it is {entry.status})", "no_offer")
        self._record(self.Declined, cause, entry_id=entry_id)

    def expire(self, entry_id: str, cause: Cause) -> bool:
        entry = self.entries.get(entry_id)
        if entry is None or entry.status != OFFERED:
            return False
        assert entry.deadline is not None
        if cause.at < entry.deadline:
            raise Refused("offer has not run out yet", "not_due")
        self._record(self.Expired, cause, entry_id=entry_id)
        return True

    def close(self, cause: Cause) -> list[Entry]:
        """Close the queue once the slot has started; returns who was still in it."""
        if self.closed:
            return []
        if cause.at < self.starts_at:
            raise Refused("the slot has not started yet", "not_due")
        remaining = sorted((e for e in self.entries.values() if e.status in ACTIVE), key=lambda e: e.order)
        self._record(self.Closed, cause, entry_ids=[e.entry_id for e in remaining])
        return remaining

    def _owned_entry(self, entry_id: str, cause: Cause, action: str) -> Entry:
        entry = self.entries.get(entry_id)
        if entry is None:
            # Forgotten once it left the queue (whose it was is the application's to check, on
            # the entry's ticket): the same answer as for an entry that is known to be out.
            if action == "leave":
                raise Refused("this entry is no longer in the queue", "not_waiting")
            raise Refused("there is no open offer for this entry (it is no longer in the queue)", "no_offer")
        if entry.user != cause.actor:
            raise Refused(f"only the owner may {action} this waitlist entry", "not_owner")
        return entry

    def _set_status(self, entry_id: str, status: str) -> None:
        self.entries[entry_id] = replace(self.entries[entry_id], status=status)

    def _forget_finished(self) -> None:
        """Drop the entries that an earlier event took out of the queue (see the module doc)."""
        if any(e.status not in ACTIVE for e in self.entries.values()):
            self.entries = {k: e for k, e in self.entries.items() if e.status in ACTIVE}


class WaitlistAllowance(DomainAggregate):
    """How many waitlist entries one user holds for one date, to enforce the daily limit.

    It only remembers which entries it counted; whether each is still active is asked of its
    slot when the limit is checked, so leaving, claiming or expiring needs no bookkeeping here.
    """

    TOPIC = "bookit.WaitlistAllowance"

    class Created(DomainAggregate.Created):
        TOPIC = "allowance.created"

    class Opened(Created):
        TOPIC = "allowance.opened"
        user: str
        date: str

    class EntryCounted(DomainAggregate.Event):
        TOPIC = "allowance.entry_counted"
        entry_id: str
        slot_id: str

        def apply(self, allowance: WaitlistAllowance) -> None:
            allowance.counted[self.entry_id] = self.slot_id

    def __init__(self, user: str, date: str, **_: Any) -> None:
        self.user = user
        self.date = date
        self.counted: dict[str, str] = {}

    @staticmethod
    def id_for(user: str, date: str) -> UUID:
        return derived_id("waitlist-allowance", user, date)

    @classmethod
    def open(cls, user: str, date: str, cause: Cause) -> WaitlistAllowance:
        return cls._start(cls.Opened, cls.id_for(user, date), cause, user=user, date=date)

    def count(self, entry_id: UUID, slot_id: UUID, active_now: int, limit: int, cause: Cause) -> None:
        if active_now >= limit:
            raise Refused(
                f"at most {limit} active waitlist entries per day (you have {active_now} on {self.date})",
                "waitlist_limit",
            )
        self._record(self.EntryCounted, cause, entry_id=str(entry_id), slot_id=str(slot_id))


class WaitlistTicket(DomainAggregate):
    """What an entry id points at. Entry ids are handed to people (CLI, emails, links), and
    commands about an entry must find its queue without a read model that might lag."""

    TOPIC = "bookit.WaitlistTicket"

    class Created(DomainAggregate.Created):
        TOPIC = "ticket.created"

    class Issued(Created):
        TOPIC = "ticket.issued"
        slot_id: str
        user: str

    def __init__(self, slot_id: str, user: str, **_: Any) -> None:
        self.slot_id = slot_id
        self.user = user

    @classmethod
    def issue(cls, entry_id: UUID, slot_id: UUID, user: str, cause: Cause) -> WaitlistTicket:
        return cls._start(cls.Issued, entry_id, cause, slot_id=str(slot_id), user=user)
