"""The queue for one exact slot (venue, local date, start, end), and how it is offered.

Order is (priority, join order); join order is a sequence number this aggregate hands out, so
two people joining in the same millisecond still have a strict order. One freeing is offered to
the first in line (mode `one`, rule 8), to the next N together (`batch:N`) or to everyone
(`all`, rule 15); no new freeing is offered while an offer is open. An entry that was offered
leaves the queue for good when it claims, declines or lets the offer run out, so nobody is
offered the same freeing twice; those who lost a shared offer to a faster claim go back to
their place in line. Leaving never renumbers anybody else. An offer made in quiet hours has a
window that opens later (rule 16): it holds the slot at once, but cannot be claimed before.

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
from bookit.aggregates.offer_policy import OfferPolicy
from bookit.aggregates.venue_day import Interval
from bookit.aggregates.waitlist_tickets import WaitlistAllowance, WaitlistTicket
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
    opens_at: datetime | None = None  # when an offer's window starts, if later than it was made
    together: int = 1  # how many were offered the same freeing (batch and all modes)
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
        # When the queue closes; None (and events from before it existed) is at the start.
        # At a venue with check-in a no-show can free the slot after it starts (rule 14).
        closes_at: datetime | None = None

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
        """The entry is offered the slot until `deadline`; its window (and email) starts at
        `opens_at` when that is later (quiet hours). `together` is how many were offered this
        freeing at once (batch and all modes)."""

        TOPIC = "waitlist.notified"
        entry_id: str
        deadline: datetime
        opens_at: datetime | None = None
        together: int = 1

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            entry = slot.entries[self.entry_id]
            slot.entries[self.entry_id] = replace(
                entry, status=OFFERED, deadline=self.deadline, opens_at=self.opens_at, together=self.together
            )

        @property
        def delayed(self) -> bool:
            return self.opens_at is not None and self.opens_at > self.timestamp

    class WindowOpened(DomainAggregate.Event):
        """Quiet hours are over: the offer's window has started and its email goes out."""

        TOPIC = "waitlist.window_opened"
        entry_id: str

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()

    class OfferTaken(DomainAggregate.Event):
        """Another person offered the same freeing claimed it first; these entries go back to
        their place in line for the next freeing, and are told."""

        TOPIC = "waitlist.offer_taken"
        entry_ids: list[str]

        def apply(self, slot: WaitlistSlot) -> None:
            slot._forget_finished()
            for entry_id in self.entry_ids:
                entry = slot.entries[entry_id]
                slot.entries[entry_id] = replace(
                    entry, status=WAITING, deadline=None, opens_at=None, together=1
                )

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
        closes_at: datetime | None = None,
        **_: Any,
    ) -> None:
        self.venue_id = venue_id
        self.date = date
        self.start = start
        self.end = end
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.closes_at = closes_at or starts_at
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
        closes_at: datetime | None = None,
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
            closes_at=closes_at,
        )

    # Queries

    @property
    def open_offer(self) -> Entry | None:
        """The open offer that comes first in line, if any."""
        offers = self.open_offers()
        return offers[0] if offers else None

    def open_offers(self) -> list[Entry]:
        """The open offers of the current freeing, in line order (several in batch/all modes)."""
        return sorted((e for e in self.entries.values() if e.status == OFFERED), key=lambda e: e.order)

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

    @staticmethod
    def check_joiner(user: str, priority: int | None, cause: Cause, *, actor_is_admin: bool) -> None:
        """Anyone joins a queue for themselves; only an admin sets a priority or puts someone
        else in (rule 10). Asked before anything is loaded, so it is the first refusal heard."""
        if priority is not None and not actor_is_admin:
            raise Refused("only an admin may set a waitlist priority", "not_admin")
        if user != cause.actor and not actor_is_admin:
            raise Refused("only an admin may add someone else to a waitlist", "not_admin")

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

    def leave(self, entry_id: str, cause: Cause, owner: str | None = None) -> bool:
        """Leave the queue; returns True if an open offer was given up (to pass it on).
        `owner` (from the entry's ticket) answers for an entry this slot has forgotten."""
        entry = self._owned_entry(entry_id, cause, "leave", owner)
        if entry.status not in ACTIVE:
            raise Refused("this entry is no longer in the queue", "not_waiting")
        self._record(self.Left, cause, entry_id=entry_id)
        return entry.status == OFFERED

    def offer_next(self, window: timedelta, cause: Cause) -> Entry | None:
        """Offer the slot to the first in line, until now + window but never past its start."""
        offered = self.offer(OfferPolicy(window=window), cause)
        return offered[0] if offered else None

    def offer(self, policy: OfferPolicy, cause: Cause) -> list[Entry]:
        """Offer this freeing to the first in line, or the first N, or all (the policy's mode),
        all with the same window; nothing while an offer is open or once the queue has closed.
        The window never reaches past the start, or, for time a no-show freed after the start
        (rule 14), past the queue's closing."""
        if self.open_offers() or self.closed or cause.at >= self.closes_at:
            return []
        waiting = self.waiting()
        chosen = waiting[: policy.mode.how_many(len(waiting))]
        if not chosen:
            return []
        plan = policy.plan(cause.at, self.starts_at if cause.at < self.starts_at else self.closes_at)
        opens_at = plan.opens_at if plan.opens_at > cause.at else None
        # Fields left at their defaults are not written, so a default policy's events are
        # exactly those of before offer policies existed.
        extra: dict[str, Any] = {"opens_at": opens_at} if opens_at is not None else {}
        if len(chosen) > 1:
            extra["together"] = len(chosen)
        for entry in chosen:
            self._record(self.Notified, cause, entry_id=entry.entry_id, deadline=plan.deadline, **extra)
        return [self.entries[e.entry_id] for e in chosen]

    def open_window(self, entry_id: str, cause: Cause) -> bool:
        """Quiet hours are over for this offer: record it, so its email goes out. False when
        the offer is no longer open (claimed, declined, passed on, closed) or was never delayed."""
        entry = self.entries.get(entry_id)
        if entry is None or entry.status != OFFERED or entry.opens_at is None:
            return False
        if cause.at < entry.opens_at:
            raise Refused("the offer's window has not opened yet", "not_due")
        self._record(self.WindowOpened, cause, entry_id=entry_id)
        return True

    def claim(self, entry_id: str, booking_id: UUID, cause: Cause, owner: str | None = None) -> None:
        entry = self._owned_entry(entry_id, cause, "claim", owner)
        if entry.status != OFFERED:
            raise Refused(f"there is no open offer for this entry (it is {entry.status})", "no_offer")
        assert entry.deadline is not None
        if cause.at >= entry.deadline:
            # Refused to the second, whether or not a tick has expired it yet (rule 6).
            raise Refused(f"offer expired at {entry.deadline:%Y-%m-%d %H:%M:%S} UTC", "offer_expired")
        if entry.opens_at is not None and cause.at < entry.opens_at:
            # Everyone offered in quiet hours starts together when they end (rule 16).
            raise Refused(
                f"the offer opens at {entry.opens_at:%Y-%m-%d %H:%M:%S} UTC, after quiet hours",
                "offer_not_open",
            )
        others = [e.entry_id for e in self.open_offers() if e.entry_id != entry_id]
        self._record(self.Claimed, cause, entry_id=entry_id, booking_id=str(booking_id))
        if others:
            self._record(self.OfferTaken, cause, entry_ids=others)

    def decline(self, entry_id: str, cause: Cause, owner: str | None = None) -> None:
        entry = self._owned_entry(entry_id, cause, "decline", owner)
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
        if cause.at < self.closes_at:
            raise Refused("the slot has not started yet", "not_due")
        remaining = sorted((e for e in self.entries.values() if e.status in ACTIVE), key=lambda e: e.order)
        self._record(self.Closed, cause, entry_ids=[e.entry_id for e in remaining])
        return remaining

    def _owned_entry(self, entry_id: str, cause: Cause, action: str, owner: str | None) -> Entry:
        """Only its owner acts on an entry (rule 10). Once out of the queue the slot forgets the
        entry (so its snapshots stay small); then `owner`, read from its ticket, says whose it was."""
        entry = self.entries.get(entry_id)
        if entry is None:
            if owner is not None and owner != cause.actor:
                raise Refused(f"only the owner may {action} this waitlist entry", "not_owner")
            # The same answer as for an entry that is known to be out.
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


__all__ = ["Entry", "WaitlistAllowance", "WaitlistSlot", "WaitlistTicket"]
