"""Read model: waitlist entries, their status and the deadline of an open offer.

Positions are not stored (they would all shift when one person leaves); queries compute them
from (priority, seq), the same order the aggregate offers in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from bookit.aggregates.waitlist import WaitlistSlot
from bookit.projections.tables import iso, waitlist_entries, waitlist_slots


def opened(conn: Connection, e: WaitlistSlot.Opened) -> None:
    conn.execute(
        insert(waitlist_slots).values(
            slot_id=str(e.originator_id),
            venue_id=e.venue_id,
            date=e.date,
            start=e.start,
            end=e.end,
            starts_at=iso(e.starts_at),
        )
    )


def joined(conn: Connection, e: WaitlistSlot.Joined) -> None:
    slot_id = str(e.originator_id)
    slot = conn.execute(select(waitlist_slots).where(waitlist_slots.c.slot_id == slot_id)).one()
    conn.execute(
        insert(waitlist_entries).values(
            entry_id=e.entry_id,
            slot_id=slot_id,
            venue_id=slot.venue_id,
            date=slot.date,
            start=slot.start,
            end=slot.end,
            user=e.user,
            priority=e.priority,
            seq=e.seq,
            status="waiting",
            offered_until=None,
            joined_at=iso(e.timestamp),
        )
    )


def _status(conn: Connection, entry_id: str, status: str, **values: Any) -> None:
    conn.execute(
        update(waitlist_entries)
        .where(waitlist_entries.c.entry_id == entry_id)
        .values(status=status, **values)
    )


def left(conn: Connection, e: WaitlistSlot.Left) -> None:
    _status(conn, e.entry_id, "left", offered_until=None)


def notified(conn: Connection, e: WaitlistSlot.Notified) -> None:
    _status(conn, e.entry_id, "offered", offered_until=iso(e.deadline))


def claimed(conn: Connection, e: WaitlistSlot.Claimed) -> None:
    _status(conn, e.entry_id, "claimed", offered_until=None)


def declined(conn: Connection, e: WaitlistSlot.Declined) -> None:
    _status(conn, e.entry_id, "declined", offered_until=None)


def expired(conn: Connection, e: WaitlistSlot.Expired) -> None:
    _status(conn, e.entry_id, "expired", offered_until=None)


def closed(conn: Connection, e: WaitlistSlot.Closed) -> None:
    for entry_id in e.entry_ids:
        _status(conn, entry_id, "closed", offered_until=None)


HANDLERS: dict[type, Any] = {
    WaitlistSlot.Opened: opened,
    WaitlistSlot.Joined: joined,
    WaitlistSlot.Left: left,
    WaitlistSlot.Notified: notified,
    WaitlistSlot.Claimed: claimed,
    WaitlistSlot.Declined: declined,
    WaitlistSlot.Expired: expired,
    WaitlistSlot.Closed: closed,
}
