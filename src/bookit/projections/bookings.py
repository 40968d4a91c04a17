"""Read model: venues, admins and bookings, with status / confirmed / reminded per booking."""

from __future__ import annotations

import json
from typing import Any

from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.booking import AUTO_CANCELLED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW, Booking
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_rules import VenueRules
from bookit.localtime import iso
from bookit.projections.batch import Batch


def venue_registered(batch: Batch, e: Venue.Registered) -> None:
    batch.venues.insert({"venue_id": e.venue_id, "name": e.name, "tz": e.tz})
    default = json.dumps(VenueRules().as_dict(), sort_keys=True)
    batch.venue_rules.insert({"venue_id": e.venue_id, "rules": default, "set_at": None, "set_by": None})


def venue_rules_set(batch: Batch, e: Venue.RulesSet) -> None:
    batch.venue_rules.update(
        e.venue_id, rules=json.dumps(e.rules, sort_keys=True), set_at=iso(e.timestamp), set_by=e.actor
    )


def admin_granted(batch: Batch, e: AdminRoster.AdminGranted) -> None:
    batch.admins.insert({"email": e.email})


def booked(batch: Batch, e: Booking.Booked) -> None:
    batch.bookings.insert(
        {
            "booking_id": str(e.originator_id),
            "venue_id": e.venue_id,
            "user": e.user,
            "date": e.date,
            "start": e.start,
            "end": e.end,
            "starts_at": iso(e.starts_at),
            "ends_at": iso(e.ends_at),
            "purpose": e.purpose,
            "status": CONFIRMED if e.confirmed else BOOKED,
            "confirmed": e.confirmed,
            "reminded": False,
            "reminder_delivered_at": None,
            "cancel_due": iso(e.cancel_due),
            "note": "",
            "booked_at": iso(e.timestamp),
            "waitlist_entry_id": e.waitlist_entry_id,
        }
    )


def _set(batch: Batch, e: Any, **values: Any) -> None:
    batch.bookings.update(str(e.originator_id), **values)


def reminded(batch: Batch, e: Booking.Reminded) -> None:
    _set(batch, e, reminded=True)


def reminder_delivered(batch: Batch, e: Booking.ReminderDelivered) -> None:
    _set(batch, e, reminder_delivered_at=iso(e.delivered_at))


def confirmed(batch: Batch, e: Booking.Confirmed) -> None:
    _set(batch, e, confirmed=True, status=CONFIRMED)


def waived(batch: Batch, e: Booking.AutoCancelWaived) -> None:
    _set(batch, e, cancel_due=None, note="auto-cancellation waived by an admin")


def cancelled(batch: Batch, e: Booking.Cancelled) -> None:
    _set(batch, e, status=CANCELLED, note=e.reason)


def auto_cancelled(batch: Batch, e: Booking.AutoCancelled) -> None:
    _set(batch, e, status=AUTO_CANCELLED, note=e.reason)


def auto_cancel_skipped(batch: Batch, e: Booking.AutoCancelSkipped) -> None:
    _set(batch, e, note=f"not auto-cancelled: {e.reason}")


def no_show(batch: Batch, e: Booking.NoShow) -> None:
    _set(batch, e, status=NO_SHOW, note=e.reason)


HANDLERS: dict[type, Any] = {
    Venue.Registered: venue_registered,
    Venue.RulesSet: venue_rules_set,
    AdminRoster.AdminGranted: admin_granted,
    Booking.Booked: booked,
    Booking.Reminded: reminded,
    Booking.ReminderDelivered: reminder_delivered,
    Booking.Confirmed: confirmed,
    Booking.AutoCancelWaived: waived,
    Booking.Cancelled: cancelled,
    Booking.AutoCancelled: auto_cancelled,
    Booking.AutoCancelSkipped: auto_cancel_skipped,
    Booking.NoShow: no_show,
}
