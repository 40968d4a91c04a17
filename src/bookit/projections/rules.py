"""Read model of the venue rules' effects (DESIGN rules 13-14): check-ins and strikes."""

from __future__ import annotations

from typing import Any

from bookit.aggregates.booking import Booking
from bookit.aggregates.strikes import CLEARED, WAIVED, StrikeRecord
from bookit.localtime import iso
from bookit.projections.batch import Batch


def booked(batch: Batch, e: Booking.Booked) -> None:
    if e.check_in_until is None:
        return
    batch.check_ins.insert(
        {
            "booking_id": str(e.originator_id),
            "venue_id": e.venue_id,
            "user": e.user,
            "starts_at": iso(e.starts_at),
            "ends_at": iso(e.ends_at),
            "check_in_until": iso(e.check_in_until),
            "checked_in_at": None,
            "no_show_at": None,
        }
    )


def checked_in(batch: Batch, e: Booking.CheckedIn) -> None:
    batch.check_ins.update(str(e.originator_id), checked_in_at=iso(e.timestamp))


def no_show(batch: Batch, e: Booking.NoShow) -> None:
    batch.check_ins.update(str(e.originator_id), no_show_at=iso(e.timestamp))


def strike_recorded(batch: Batch, e: StrikeRecord.StrikeRecorded) -> None:
    batch.strikes.insert(
        {
            "booking_id": e.booking_id,
            "user": e.user,
            "venue_id": e.venue_id,
            "reason": e.reason,
            "at": iso(e.timestamp),
            "status": "active",
            "changed_by": None,
        }
    )


def strike_waived(batch: Batch, e: StrikeRecord.StrikeWaived) -> None:
    batch.strikes.update(e.booking_id, status=WAIVED, changed_by=e.actor)


def strikes_cleared(batch: Batch, e: StrikeRecord.StrikesCleared) -> None:
    for booking_id in e.booking_ids:
        batch.strikes.update(booking_id, status=CLEARED, changed_by=e.actor)


HANDLERS: dict[type, Any] = {
    Booking.Booked: booked,
    Booking.CheckedIn: checked_in,
    Booking.NoShow: no_show,
    StrikeRecord.StrikeRecorded: strike_recorded,
    StrikeRecord.StrikeWaived: strike_waived,
    StrikeRecord.StrikesCleared: strikes_cleared,
}
