"""iCalendar for a booking's time (RFC 5545), as an email part (iTIP, RFC 5546) or a feed.

An email that makes, claims or confirms a booking carries `METHOD:REQUEST`; one that cancels it
(by its owner, by the system, or by a release) carries `METHOD:CANCEL` for the same event. A
booking that still waits for its owner's confirmation is `STATUS:TENTATIVE` (it may yet be
auto-cancelled); the confirmation's update, at a higher SEQUENCE, makes it `CONFIRMED`. The `UID` is
derived from the booking id, so a calendar matches the cancellation to the invitation it put
in; the `SEQUENCE` is the booking's version at the event, so a later change always outranks an
earlier one. Times are the venue's wall clock with its `TZID` and a `VTIMEZONE`, or UTC for a
venue in UTC. `DTSTAMP` is the event's own instant: the same event gives the same bytes.

Built with the `icalendar` library; nothing here reads the clock. It lives beside the mail
adapter, not in it, so that `bookit calendar` (a read) loads no templates.

An invitation goes out with every booking, so it is not built as a tree of components: its
dozen content lines are written straight from icalendar's own pieces (its text escaping, its
parameters, its folding, its VTIMEZONE for each zone and span of days, made once), in the order
`Calendar.to_ical()` writes them. tests/unit/test_calendar_text.py holds the two to the same
bytes; a feed, read rarely, is built the library's way.
"""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vDDDTypes, vText
from icalendar.parser import Contentline

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
    tentative: bool = False  # booked, and waiting for its owner's confirmation

    @property
    def status(self) -> str:
        return "CANCELLED" if self.cancelled else "TENTATIVE" if self.tentative else "CONFIRMED"

    @property
    def summary(self) -> str:
        """The calendar title: the purpose at the venue, or the booking at the venue."""
        return f"{self.venue_name}: {self.purpose}" if self.purpose else f"Booking at {self.venue_name}"

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
    method = method_of(entry)
    lines = [_head(method)]
    if not _is_utc(entry.tz):
        lines.append(_vtimezone(entry.tz, *_span([entry])))
    zone = _zone(entry.tz)
    lines += [
        "BEGIN:VEVENT\r\n",
        _line("SUMMARY", "", _text(entry.summary)),
        _line("DTSTART", *_time(entry.starts_at, zone)),
        _line("DTEND", *_time(entry.ends_at, zone)),
        _line("DTSTAMP", *_time(entry.stamp, UTC)),
        _line("UID", "", _text(entry.uid)),
        _line("SEQUENCE", "", str(int(entry.sequence))),
        _address("ATTENDEE", _attendee(entry)),
        _line("DESCRIPTION", "", _text(entry.purpose)) if entry.purpose else "",
        _line("LOCATION", "", _text(entry.venue_name)),
        _organizer(organizer),
        _STATUS[entry.status],
        "END:VEVENT\r\nEND:VCALENDAR\r\n",
    ]
    return "".join(lines)


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
        calendar.add_component(_timezone(tz, *_span([e for e in entries if e.tz == tz])))
    for entry in entries:
        calendar.add_component(_event(entry, organizer))
    return str(calendar.to_ical().decode())


def _span(entries: list[BookingTime]) -> tuple[date, date]:
    days = [d for e in entries for d in (e.starts_at.date(), e.ends_at.date())]
    return min(days), max(days)


def _event(entry: BookingTime, organizer: str) -> Event:
    zone = _zone(entry.tz)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", entry.stamp.astimezone(UTC))
    event.add("dtstart", _wall(entry.starts_at, zone))
    event.add("dtend", _wall(entry.ends_at, zone))
    event.add("summary", entry.summary)
    event.add("location", entry.venue_name)
    if entry.purpose:
        event.add("description", entry.purpose)
    event.add("status", entry.status)
    event.add("transp", "TRANSPARENT" if entry.cancelled else "OPAQUE")
    event.add("organizer", _organizer_address(organizer))
    event.add("attendee", _attendee(entry))
    return event


def _organizer_address(organizer: str) -> vCalAddress:
    sender_name, sender_address = email.utils.parseaddr(organizer)
    return vCalAddress.new(sender_address, cn=sender_name or None)


def _attendee(entry: BookingTime) -> vCalAddress:
    # The booker made the booking, so they have already accepted; nothing to reply to.
    return vCalAddress.new(
        entry.attendee,
        cn=entry.attendee_name or None,
        partstat="ACCEPTED",
        role="REQ-PARTICIPANT",
        rsvp=False,
    )


def _timezone(tz: str, first: date, last: date) -> Timezone:
    # Only the offsets in force around the bookings (a day either side), with every change in
    # between: a VTIMEZONE from 1970 on would be most of the part and most of its cost.
    return Timezone.from_tzinfo(
        ZoneInfo(tz), tzid=tz, first_date=first - timedelta(days=1), last_date=last + timedelta(days=1)
    )


def _is_utc(tz: str) -> bool:
    return tz in _UTC_ZONES


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo("UTC" if _is_utc(tz) else tz)


# The pieces of an invitation, written as `Calendar.to_ical()` writes them.

_STATUS = {
    "CONFIRMED": "STATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\n",
    "TENTATIVE": "STATUS:TENTATIVE\r\nTRANSP:OPAQUE\r\n",
    "CANCELLED": "STATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\n",
}


@functools.cache
def _head(method: str) -> str:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return str(calendar.to_ical().decode()).removesuffix("END:VCALENDAR\r\n")


@functools.lru_cache(maxsize=1024)
def _vtimezone(tz: str, first: date, last: date) -> str:
    return str(_timezone(tz, first, last).to_ical().decode())


def _line(name: str, params: str, value: str) -> str:
    """One content line, folded as the library folds it."""
    line = f"{name};{params}:{value}" if params else f"{name}:{value}"
    if not line.isascii():
        return str(Contentline(line).to_ical().decode()) + "\r\n"
    return _fold_ascii(line) + "\r\n"


def _fold_ascii(line: str) -> str:
    """The library's folding of an ASCII line, a slice at a time rather than a character at a
    time: pieces of 74 octets, each fold moving a backslash or caret that ends a piece to the
    next one (so that no escape is cut in two)."""
    pieces = []
    start = 0
    while len(line) - start > 74:
        end = start + 74
        if line[end - 1] in "\\^":
            end -= 1
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return "\r\n ".join(pieces)


def _text(value: str) -> str:
    if not any(char in value for char in "\\;,\r\n"):
        return value  # nothing TEXT escapes: the library writes it as it is
    return str(vText(value).to_ical().decode())


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` on `zone`'s wall clock, or in UTC when that wall time happens twice and this is
    its second time: RFC 5545 reads an ambiguous local time as the first, so the second can only
    be written as UTC."""
    local = moment.astimezone(zone)
    return local.astimezone(UTC) if local.fold else local


def _time(moment: datetime, zone: tzinfo) -> tuple[str, str]:
    """(TZID parameter, value) of a DATE-TIME on `zone`'s wall clock, as vDDDTypes writes it."""
    local = _wall(moment, zone)
    params, utc = _time_params(local.tzinfo)
    value = f"{local.year:04}{local.month:02}{local.day:02}T{local.hour:02}{local.minute:02}{local.second:02}"
    return params, (value + "Z" if utc else value)


@functools.lru_cache(maxsize=64)
def _time_params(zone: object) -> tuple[str, bool]:
    # What the library writes depends on the zone alone: its TZID (none for UTC), and a Z.
    sample = vDDDTypes(datetime(2000, 1, 1, tzinfo=zone))  # type: ignore[arg-type]
    return str(sample.params.to_ical(sorted=True).decode()), sample.to_ical().endswith(b"Z")


def _address(name: str, address: vCalAddress) -> str:
    return _line(name, str(address.params.to_ical(sorted=True).decode()), str(address.to_ical().decode()))


@functools.lru_cache(maxsize=16)
def _organizer(organizer: str) -> str:
    return _address("ORGANIZER", _organizer_address(organizer))
