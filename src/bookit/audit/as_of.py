"""`bookit show ID --as-of INSTANT`: a booking's or an entry's state as it was at an instant.

Read from the event store, not from a copy: the aggregate is loaded at the last version whose
event happened at or before the instant (`repository.get(id, version=...)`), and shown in the
same shape as `bookit show` shows the present, so the two can be compared. An instant before the
thing existed is bad input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from bookit.aggregates.booking import Booking
from bookit.aggregates.waitlist import ACTIVE, OFFERED, WaitlistSlot
from bookit.audit.resolve import BOOKING, ENTRY, resolve
from bookit.errors import BadInput
from bookit.localtime import from_iso, iso

# What each event that ends an entry's time in the queue makes of it.
_ENDS: dict[type, str] = {
    WaitlistSlot.Left: "left",
    WaitlistSlot.Claimed: "claimed",
    WaitlistSlot.Declined: "declined",
    WaitlistSlot.Expired: "expired",
}


def as_of(app: Any, text: str, instant: datetime) -> dict[str, Any]:
    """The state of booking or entry `text` at `instant`, as `bookit show` would have said."""
    subject = resolve(app, text, (BOOKING, ENTRY))
    if subject.kind == BOOKING:
        return booking_as_of(app, subject.id, instant)
    return entry_as_of(app, subject.id, UUID(subject.aggregate.slot_id), instant)


def _version_at(app: Any, ident: UUID, instant: datetime, what: str) -> tuple[int, list[Any]]:
    events = [e for e in app.events.get(ident) if e.timestamp <= instant]
    if not events:
        first = next(iter(app.events.get(ident)))
        raise BadInput(
            f"{what} {ident} did not exist yet at {iso(instant)} (it began at {iso(first.timestamp)})",
            "before_it_existed",
        )
    return events[-1].originator_version, events


def booking_as_of(app: Any, booking_id: UUID, instant: datetime) -> dict[str, Any]:
    version, events = _version_at(app, booking_id, instant, "booking")
    booking: Booking = app.repository.get(booking_id, version=version)
    note = ""
    for event in events:
        if isinstance(event, Booking.AutoCancelWaived):
            note = "auto-cancellation waived by an admin"
        elif isinstance(event, Booking.Cancelled | Booking.AutoCancelled):
            note = event.reason
        elif isinstance(event, Booking.AutoCancelSkipped):
            note = f"not auto-cancelled: {event.reason}"
    return {
        "booking_id": str(booking.id),
        "venue_id": booking.venue_id,
        "user": booking.user,
        "date": booking.date,
        "start": booking.start,
        "end": booking.end,
        "starts_at": iso(booking.starts_at),
        "ends_at": iso(booking.ends_at),
        "purpose": booking.purpose,
        "status": booking.status,
        "confirmed": booking.confirmed,
        "reminded": booking.reminded_at is not None,
        "reminder_delivered_at": iso(booking.reminder_delivered_at),
        "cancel_due": None if booking.waived else iso(booking.cancel_due),
        "note": note,
        "booked_at": iso(events[0].timestamp),
        "waitlist_entry_id": booking.waitlist_entry_id,
    }


def entry_as_of(app: Any, entry_id: UUID, slot_id: UUID, instant: datetime) -> dict[str, Any]:
    _version_at(app, entry_id, instant, "waitlist entry")  # its ticket: issued when it joined
    version, events = _version_at(app, slot_id, instant, "waitlist slot")
    slot: WaitlistSlot = app.repository.get(slot_id, version=version)
    mine = str(entry_id)
    joined = next(e for e in events if isinstance(e, WaitlistSlot.Joined) and e.entry_id == mine)
    status, deadline = "waiting", None
    entry = slot.entries.get(mine)
    if entry is not None:
        status, deadline = entry.status, entry.deadline
    else:  # forgotten by the slot once out of the queue: the event that took it out says how
        for event in events:
            if type(event) in _ENDS and event.entry_id == mine:
                status = _ENDS[type(event)]
            elif isinstance(event, WaitlistSlot.Closed) and mine in event.entry_ids:
                status = "closed"
    return entry_state(
        {
            "entry_id": mine,
            "slot_id": str(slot_id),
            "venue_id": slot.venue_id,
            "user": joined.user,
            "date": slot.date,
            "start": slot.start,
            "end": slot.end,
            "priority": joined.priority,
            "seq": joined.seq,
            "status": status,
            "offered_until": iso(deadline) if status == OFFERED else None,
            "joined_at": iso(joined.timestamp),
        },
        slot.position(mine) if status in ACTIVE else None,
        instant,
    )


def entry_state(row: dict[str, Any], position: int | None, now: datetime) -> dict[str, Any]:
    """An entry as `show` gives it: its read-model row, its place in line, seconds left."""
    row = dict(row, position=position)
    if row["status"] == OFFERED and row["offered_until"]:
        row["seconds_left"] = max(0, int((from_iso(row["offered_until"]) - now).total_seconds()))
    return row
