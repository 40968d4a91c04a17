"""iCalendar for a booking's time (RFC 5545), as an email part (iTIP, RFC 5546) or a feed.

An email that makes or claims a booking carries `METHOD:REQUEST`; one that cancels it (by its
owner, by the system, or by a release) carries `METHOD:CANCEL` for the same event. The `UID` is
derived from the booking id, so a calendar matches the cancellation to the invitation it put
in; the `SEQUENCE` is the booking's version at the event, so a later change always outranks an
earlier one. Times are the venue's wall clock with its `TZID` and a `VTIMEZONE`, or UTC for a
venue in UTC. `DTSTAMP` is the event's own instant: the same event gives the same bytes.

Built with the `icalendar` library; nothing here reads the clock. It lives beside the mail
adapter, not in it, so that `bookit calendar` (a read) loads no templates.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

REQUEST = "REQUEST"
CANCEL = "CANCEL"

PRODID = "-//BookIT//BookIT core//EN"
SENDER = "BookIT <no-reply@bookit.local>"  # the From of every email, the ORGANIZER of every entry
FIRST_SEQUENCE = 1  # a booking's first event (its invitation) is its version 1
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"})


@dataclass(frozen=True)
class BookingTime:
    """What a calendar needs to know about one booking at one moment of its history."""

    booking_id: str
    sequence: int  # the booking's version at the event: rises with every change
    stamp: datetime  # the event's instant
    starts_at: datetime  # UTC instants, as the booking keeps them
    ends_at: datetime
    tz: str  # the venue's IANA zone
    venue_name: str
    attendee: str  # the booker's address
    attendee_name: str = ""
    purpose: str = ""
    cancelled: bool = False

    @property
    def uid(self) -> str:
        return uid_for(self.booking_id)


def uid_for(booking_id: str) -> str:
    return f"{booking_id}@bookit"


def method_of(entry: BookingTime) -> str:
    return CANCEL if entry.cancelled else REQUEST


def invitation(entry: BookingTime, organizer: str) -> str:
    """The iTIP message for one change: REQUEST for a live booking, CANCEL for a cancelled one.
    `organizer` is the sender, as the From header spells it ("BookIT <no-reply@…>")."""
    return _calendar([entry], organizer, method_of(entry))


def feed(entries: Iterable[BookingTime], organizer: str, name: str = "BookIT") -> str:
    """Several bookings as one calendar to subscribe to. It has no METHOD (it is not a message),
    so each DTSTAMP says when that booking's entry last changed."""
    return _calendar(list(entries), organizer, "", name=name)


def _calendar(entries: list[BookingTime], organizer: str, method: str, name: str = "") -> str:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    for tz in sorted({e.tz for e in entries if not _is_utc(e.tz)}):
        days = [d for e in entries if e.tz == tz for d in (e.starts_at.date(), e.ends_at.date())]
        calendar.add_component(_timezone(tz, min(days), max(days)))
    for entry in entries:
        calendar.add_component(_event(entry, organizer))
    return str(calendar.to_ical().decode())


def _event(entry: BookingTime, organizer: str) -> Event:
    sender_name, sender_address = email.utils.parseaddr(organizer)
    zone = ZoneInfo("UTC" if _is_utc(entry.tz) else entry.tz)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", entry.stamp.astimezone(UTC))
    event.add("dtstart", entry.starts_at.astimezone(zone))
    event.add("dtend", entry.ends_at.astimezone(zone))
    event.add("summary", f"{entry.venue_name}: {entry.purpose}" if entry.purpose else entry.venue_name)
    event.add("location", entry.venue_name)
    if entry.purpose:
        event.add("description", entry.purpose)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if entry.cancelled else "OPAQUE")
    event.add("organizer", vCalAddress.new(sender_address, cn=sender_name or None))
    # The booker made the booking, so they have already accepted; nothing to reply to.
    attendee = vCalAddress.new(
        entry.attendee,
        cn=entry.attendee_name or None,
        partstat="ACCEPTED",
        role="REQ-PARTICIPANT",
        rsvp=False,
    )
    event.add("attendee", attendee)
    return event


def _timezone(tz: str, first: date, last: date) -> Timezone:
    # Only the offsets in force around the bookings (a day either side), with every change in
    # between: a VTIMEZONE from 1970 on would be most of the part and most of its cost.
    return Timezone.from_tzinfo(
        ZoneInfo(tz), tzid=tz, first_date=first - timedelta(days=1), last_date=last + timedelta(days=1)
    )


def _is_utc(tz: str) -> bool:
    return tz in _UTC_ZONES
