"""Read model: venues, admins and bookings, with status / confirmed / reminded per booking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, update

from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue import Venue
from bookit.projections.tables import admins, bookings, iso, venues


def venue_registered(conn: Connection, e: Venue.Registered) -> None:
    conn.execute(insert(venues).values(venue_id=e.venue_id, name=e.name, tz=e.tz))


def admin_granted(conn: Connection, e: AdminRoster.AdminGranted) -> None:
    conn.execute(insert(admins).values(email=e.email))


def booked(conn: Connection, e: Booking.Booked) -> None:
    conn.execute(
        insert(bookings).values(
            booking_id=str(e.originator_id),
            venue_id=e.venue_id,
            user=e.user,
            date=e.date,
            start=e.start,
            end=e.end,
            starts_at=iso(e.starts_at),
            ends_at=iso(e.ends_at),
            purpose=e.purpose,
            status="confirmed" if e.confirmed else "booked",
            confirmed=e.confirmed,
            reminded=False,
            reminder_delivered_at=None,
            cancel_due=iso(e.cancel_due),
            note="",
            booked_at=iso(e.timestamp),
            waitlist_entry_id=e.waitlist_entry_id,
        )
    )


def _set(conn: Connection, e: Any, **values: Any) -> None:
    conn.execute(update(bookings).where(bookings.c.booking_id == str(e.originator_id)).values(**values))


def reminded(conn: Connection, e: Booking.Reminded) -> None:
    _set(conn, e, reminded=True)


def reminder_delivered(conn: Connection, e: Booking.ReminderDelivered) -> None:
    _set(conn, e, reminder_delivered_at=iso(e.delivered_at))


def confirmed(conn: Connection, e: Booking.Confirmed) -> None:
    _set(conn, e, confirmed=True, status="confirmed")


def waived(conn: Connection, e: Booking.AutoCancelWaived) -> None:
    _set(conn, e, cancel_due=None, note="auto-cancellation waived by an admin")


def cancelled(conn: Connection, e: Booking.Cancelled) -> None:
    _set(conn, e, status="cancelled", note=e.reason)


def auto_cancelled(conn: Connection, e: Booking.AutoCancelled) -> None:
    _set(conn, e, status="auto_cancelled", note=e.reason)


def auto_cancel_skipped(conn: Connection, e: Booking.AutoCancelSkipped) -> None:
    _set(conn, e, note=f"not auto-cancelled: {e.reason}")


HANDLERS: dict[type, Any] = {
    Venue.Registered: venue_registered,
    AdminRoster.AdminGranted: admin_granted,
    Booking.Booked: booked,
    Booking.Reminded: reminded,
    Booking.ReminderDelivered: reminder_delivered,
    Booking.Confirmed: confirmed,
    Booking.AutoCancelWaived: waived,
    Booking.Cancelled: cancelled,
    Booking.AutoCancelled: auto_cancelled,
    Booking.AutoCancelSkipped: auto_cancel_skipped,
}
