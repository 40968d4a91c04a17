"""The iCalendar part of the emails about a booking's time (CONTRACT.md "Email headers (added)"),
read back the way a calendar reads it: parsed with `icalendar` from the composed message.

The emails come from the pure half of the mailer, given in-memory aggregates (as in
test_mail_owed.py), and are composed exactly as the mailer composes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bookit.adapters import calendar as ical
from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue import Venue
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.config import Rules
from bookit.links import LinkSigner
from bookit.policies.mail.mailer import compose
from bookit.policies.mail.owed import Facts, emails_owed

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
ANN = "ann@example.com"
LINKS = LinkSigner(b"0123456789abcdef0123", "https://bookit.example")
PARIS = Venue.register("main-hall", "Main Hall", "Europe/Paris", Cause(SYSTEM, "v", NOW))
IN_UTC = Venue.register("ops-room", "Ops Room", "UTC", Cause(SYSTEM, "v", NOW))


def cause(actor: str = SYSTEM, at: datetime = NOW) -> Cause:
    return Cause(actor=actor, command_id=str(uuid4()), at=at)


def book(venue: Venue = PARIS, name: str = "Ann Smith") -> Booking:
    local = START.astimezone(ZoneInfo(venue.tz))
    return Booking.book(
        uuid4(),
        venue_id=venue.venue_id,
        user=ANN,
        date=f"{local:%Y-%m-%d}",
        start=f"{local:%H:%M}",
        end=f"{local + timedelta(hours=2):%H:%M}",
        starts_at=START,
        ends_at=START + timedelta(hours=2),
        purpose="Choir",
        rules=Rules(),
        cause=cause(ANN),
        name=name,
    )


def mailed(aggregate: Any, venue: Venue = PARIS) -> list[EmailMessage]:
    """The newest event's emails, composed as the mailer composes them and parsed off the wire."""
    messages = []
    for email in emails_owed(Facts(aggregate.collect_events()[-1], aggregate, venue, LINKS)):
        composed = compose(email, NOW)
        parsed = BytesParser(EmailMessage, policy=default_policy).parsebytes(composed.as_bytes())
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def calendar_of(message: EmailMessage) -> tuple[str, Calendar]:
    """(the part's `method` parameter, the parsed calendar)."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return str(part.get_param("method")), Calendar.from_ical(part.get_content())


def vevent(calendar: Calendar) -> Any:
    [event] = calendar.walk("VEVENT")
    return event


def test_a_new_booking_email_invites_with_the_venue_zone_location_organizer_and_attendee() -> None:
    booking = book()
    [message] = mailed(booking)

    method, calendar = calendar_of(message)
    event = vevent(calendar)

    assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
    assert event["UID"] == f"{booking.id}@bookit"
    assert event["SEQUENCE"] == 1
    assert event["STATUS"] == "TENTATIVE"  # until its owner confirms it
    # 14:00 UTC is 15:00 on the Paris wall clock, said with its TZID and a VTIMEZONE for it.
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event["DTSTART"].dt == datetime(2026, 12, 3, 15, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert event["DTSTART"].dt == START and event["DTEND"].dt == START + timedelta(hours=2)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert event["LOCATION"] == "Main Hall"
    assert event["SUMMARY"] == "Main Hall: Choir"
    assert event["ORGANIZER"] == "mailto:no-reply@bookit.local"
    assert event["ORGANIZER"].params["CN"] == "BookIT"
    assert event["ATTENDEE"] == f"mailto:{ANN}"
    assert event["ATTENDEE"].params["CN"] == "Ann Smith"
    assert event["DTSTAMP"].dt == NOW


@pytest.mark.parametrize("how", ["booking-cancelled", "auto-cancelled"])
def test_a_cancellation_has_the_invitations_uid_and_a_higher_sequence(how: str) -> None:
    booking = book()
    [invited] = mailed(booking)
    if how == "booking-cancelled":
        booking.cancel("plans changed", cause(ANN, NOW + timedelta(hours=1)))
    else:
        booking.remind(cause(at=START - timedelta(hours=24)))
        booking.note_reminder_delivered(START - timedelta(hours=24), cause())
        booking.auto_cancel(Rules(), cause(at=START - timedelta(hours=2)))
    [cancelled] = mailed(booking)

    request_method, request = calendar_of(invited)
    cancel_method, cancel = calendar_of(cancelled)

    assert cancelled["X-BookIT-Kind"] == how
    assert (request_method, cancel_method) == ("REQUEST", "CANCEL")
    assert cancel["METHOD"] == "CANCEL"
    assert vevent(cancel)["UID"] == vevent(request)["UID"]
    assert vevent(cancel)["SEQUENCE"] > vevent(request)["SEQUENCE"]
    assert vevent(cancel)["STATUS"] == "CANCELLED"
    assert vevent(cancel)["DTSTART"].dt == vevent(request)["DTSTART"].dt


def test_a_claim_from_the_waitlist_invites_the_claimant_to_the_new_booking() -> None:
    slot = WaitlistSlot.open(
        "main-hall", "2026-12-03", "15:00", "17:00", START, START + timedelta(hours=2), cause()
    )
    entry_id = uuid4()
    slot.join(entry_id, ANN, 0, cause(ANN), name="Ann Smith")
    slot.offer_next(timedelta(minutes=15), cause())
    booking_id = uuid4()
    slot.claim(str(entry_id), booking_id, cause(ANN, NOW + timedelta(minutes=2)))

    [message] = mailed(slot)
    method, calendar = calendar_of(message)

    assert message["X-BookIT-Kind"] == "waitlist-claimed"
    assert method == "REQUEST"
    assert vevent(calendar)["UID"] == f"{booking_id}@bookit"
    assert vevent(calendar)["ATTENDEE"].params["CN"] == "Ann Smith"
    assert vevent(calendar)["DTSTART"].dt == START


def test_emails_not_about_a_change_of_the_bookings_time_carry_no_calendar() -> None:
    booking = book()
    booking.collect_events()
    booking.remind(cause(at=START - timedelta(hours=24)))
    [reminder] = mailed(booking)
    assert [p.get_content_type() for p in reminder.iter_parts()] == ["text/plain", "text/html"]


def test_a_venue_in_utc_gets_utc_times_and_no_vtimezone() -> None:
    [message] = mailed(book(IN_UTC), IN_UTC)
    _, calendar = calendar_of(message)
    assert calendar.walk("VTIMEZONE") == []
    assert vevent(calendar)["DTSTART"].to_ical() == b"20261203T140000Z"


def test_the_calendar_part_is_the_last_alternative_after_text_and_html() -> None:
    [message] = mailed(book())
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]


def test_the_same_event_gives_the_same_calendar_bytes() -> None:
    booking = book()
    event = booking.collect_events()[-1]
    [email] = emails_owed(Facts(event, booking, PARIS, LINKS))
    assert email.calendar is not None
    organizer = "BookIT <no-reply@bookit.local>"
    assert ical.invitation(email.calendar, organizer) == ical.invitation(email.calendar, organizer)


def test_a_feed_holds_each_booking_once_under_its_invitation_uid() -> None:
    first, second = book(), book(name="")
    entries = [
        ical.BookingTime(
            booking_id=str(b.id),
            sequence=ical.FIRST_SEQUENCE,
            stamp=NOW,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            tz="Europe/Paris",
            venue_name="Main Hall",
            attendee=ANN,
        )
        for b in (first, second)
    ]
    calendar = Calendar.from_ical(ical.feed(entries, "BookIT <no-reply@bookit.local>"))
    assert "METHOD" not in calendar
    assert [e["UID"] for e in calendar.walk("VEVENT")] == [f"{first.id}@bookit", f"{second.id}@bookit"]
    assert len(calendar.walk("VTIMEZONE")) == 1


def test_a_bookings_calendar_life_tentative_then_confirmed_then_cancelled_under_one_uid() -> None:
    """The receipt is tentative (it may yet be auto-cancelled); the owner's confirmation sends
    the update, CONFIRMED at a higher SEQUENCE, in an email that says so; a cancellation cancels
    the same UID higher still."""
    booking = book()
    seen = []
    for act in (
        lambda: None,
        lambda: booking.remind(cause(at=START - timedelta(hours=24))),
        lambda: booking.confirm(cause(ANN, START - timedelta(hours=20))),
        lambda: booking.cancel("plans changed", cause(ANN, START - timedelta(hours=10))),
    ):
        act()
        for message in mailed(booking):
            if any(p.get_content_type() == "text/calendar" for p in message.walk()):
                method, calendar = calendar_of(message)
                seen.append((str(message["X-BookIT-Kind"]), method, vevent(calendar), message))
    kinds = [(kind, method, str(event["STATUS"])) for kind, method, event, _ in seen]
    assert kinds == [
        ("booking-confirmed", "REQUEST", "TENTATIVE"),
        ("confirmation-received", "REQUEST", "CONFIRMED"),
        ("booking-cancelled", "CANCEL", "CANCELLED"),
    ]
    assert len({str(event["UID"]) for _, _, event, _ in seen}) == 1
    sequences = [int(event["SEQUENCE"]) for _, _, event, _ in seen]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert seen[1][3]["Subject"] == "Booking confirmed: Main Hall on Thursday 3 December 2026"
    assert seen[0][3]["Subject"] == "Booked: Main Hall on Thursday 3 December 2026"


def test_a_booking_that_needs_no_confirmation_is_confirmed_in_its_first_calendar_entry() -> None:
    late = Booking.book(
        uuid4(),
        venue_id="main-hall",
        user=ANN,
        date="2026-12-01",
        start="11:00",
        end="12:00",
        starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
        purpose="",
        rules=Rules(),
        cause=cause(ANN),
    )
    [message] = mailed(late)
    _, calendar = calendar_of(message)
    assert vevent(calendar)["STATUS"] == "CONFIRMED"
    assert vevent(calendar)["SUMMARY"] == "Booking at Main Hall"  # no purpose: no "Main Hall: "


def test_an_admins_waiver_sends_the_calendar_update_confirmed_at_a_higher_sequence() -> None:
    booking = book()
    [receipt] = mailed(booking)
    booking.remind(cause(at=START - timedelta(hours=24)))
    booking.collect_events()
    booking.waive_auto_cancel(cause("admin@example.com", START - timedelta(hours=20)), actor_is_admin=True)
    [update] = mailed(booking)
    assert update["X-BookIT-Kind"] == "confirmation-waived"
    first, then = vevent(calendar_of(receipt)[1]), vevent(calendar_of(update)[1])
    assert (str(first["STATUS"]), str(then["STATUS"])) == ("TENTATIVE", "CONFIRMED")
    assert then["UID"] == first["UID"] and then["SEQUENCE"] > first["SEQUENCE"]
