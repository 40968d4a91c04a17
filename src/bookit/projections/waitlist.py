"""Read model: waitlist entries, their status and the deadline of an open offer.

Positions are not stored (they would all shift when one person leaves); queries compute them
from (priority, seq), the same order the aggregate offers in.
"""

from __future__ import annotations

from typing import Any

from bookit.aggregates.waitlist import (
    CLAIMED,
    CLOSED,
    DECLINED,
    EXPIRED,
    LEFT,
    OFFERED,
    WAITING,
    WaitlistSlot,
)
from bookit.localtime import iso
from bookit.projections.batch import Batch


def opened(batch: Batch, e: WaitlistSlot.Opened) -> None:
    batch.waitlist_slots.insert(
        {
            "slot_id": str(e.originator_id),
            "venue_id": e.venue_id,
            "date": e.date,
            "start": e.start,
            "end": e.end,
            "starts_at": iso(e.starts_at),
        }
    )


def joined(batch: Batch, e: WaitlistSlot.Joined) -> None:
    slot_id = str(e.originator_id)
    slot = batch.slot(slot_id)
    batch.waitlist_entries.insert(
        {
            "entry_id": e.entry_id,
            "slot_id": slot_id,
            "venue_id": slot["venue_id"],
            "date": slot["date"],
            "start": slot["start"],
            "end": slot["end"],
            "user": e.user,
            "priority": e.priority,
            "seq": e.seq,
            "status": WAITING,
            "offered_until": None,
            "joined_at": iso(e.timestamp),
        }
    )


def _status(batch: Batch, entry_id: str, status: str, **values: Any) -> None:
    batch.waitlist_entries.update(entry_id, status=status, **values)


def left(batch: Batch, e: WaitlistSlot.Left) -> None:
    _status(batch, e.entry_id, LEFT, offered_until=None)


def notified(batch: Batch, e: WaitlistSlot.Notified) -> None:
    _status(batch, e.entry_id, OFFERED, offered_until=iso(e.deadline))


def claimed(batch: Batch, e: WaitlistSlot.Claimed) -> None:
    _status(batch, e.entry_id, CLAIMED, offered_until=None)


def declined(batch: Batch, e: WaitlistSlot.Declined) -> None:
    _status(batch, e.entry_id, DECLINED, offered_until=None)


def expired(batch: Batch, e: WaitlistSlot.Expired) -> None:
    _status(batch, e.entry_id, EXPIRED, offered_until=None)


def offers_taken(batch: Batch, e: WaitlistSlot.OfferTaken) -> None:
    for entry_id in e.entry_ids:
        _status(batch, entry_id, WAITING, offered_until=None)


def closed(batch: Batch, e: WaitlistSlot.Closed) -> None:
    for entry_id in e.entry_ids:
        _status(batch, entry_id, CLOSED, offered_until=None)


HANDLERS: dict[type, Any] = {
    WaitlistSlot.Opened: opened,
    WaitlistSlot.Joined: joined,
    WaitlistSlot.Left: left,
    WaitlistSlot.Notified: notified,
    WaitlistSlot.Claimed: claimed,
    WaitlistSlot.Declined: declined,
    WaitlistSlot.Expired: expired,
    WaitlistSlot.OfferTaken: offers_taken,
    WaitlistSlot.Closed: closed,
}
