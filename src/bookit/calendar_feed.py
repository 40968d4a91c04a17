"""A user's live bookings as one iCalendar feed: what `bookit calendar --user U` prints.

Read from the read models (bookings and venues), never from aggregates: the feed is a view, and
the same store gives the same bytes. Each booking keeps the UID and SEQUENCE of the invitation
its email carried, so a calendar that has both sees one booking, not two.
"""

from __future__ import annotations

from sqlalchemy import Engine

from bookit.adapters import calendar as ical
from bookit.aggregates.booking import purpose_as_given
from bookit.localtime import from_iso
from bookit.projections import queries

LIVE = ("booked", "confirmed")


def live_bookings(engine: Engine, user: str) -> list[ical.BookingTime]:
    """The user's bookings that are still on (booked or confirmed), by start."""
    zones = {row["venue_id"]: row for row in queries.venue_list(engine)}
    rows = [row for row in queries.booking_list(engine, user=user) if row["status"] in LIVE]
    rows.sort(key=lambda row: (row["starts_at"], row["booking_id"]))
    return [
        ical.BookingTime(
            booking_id=row["booking_id"],
            sequence=ical.FIRST_SEQUENCE,  # live: still the invitation's
            stamp=from_iso(row["booked_at"]),
            starts_at=from_iso(row["starts_at"]),
            ends_at=from_iso(row["ends_at"]),
            tz=zones[row["venue_id"]]["tz"],
            venue_name=zones[row["venue_id"]]["name"],
            attendee=row["user"],
            purpose=purpose_as_given(row["purpose"], row["waitlist_entry_id"]),
            # Still waiting for its owner's confirmation: it may yet be auto-cancelled.
            tentative=row["status"] == "booked" and row["cancel_due"] is not None,
        )
        for row in rows
    ]


def user_feed(engine: Engine, user: str, sender: str = ical.SENDER) -> str:
    return ical.feed(live_bookings(engine, user), sender, name="BookIT bookings")
