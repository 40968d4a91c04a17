"""Which emails a stored event owes, to whom, and what each one says. Pure: no SQL, no clock.

`OWED` maps each email-owing event type to one small function. It is given the `Facts` of the
event (the event, its aggregate as it was just after the event, the venue, the link signer) and
returns the emails, each with the context its templates need. Every other event owes nothing
and is passed without being decoded (`MAILED_TOPICS`).

To change what an email says, change its function here (the templates are in
`adapters/mail/templates/`); to make a new event owe an email, add a function with `@owes(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from bookit.adapters import calendar as ical
from bookit.aggregates.base import derived_id, event_id
from bookit.aggregates.booking import Booking, purpose_as_given
from bookit.aggregates.strikes import StrikeRecord
from bookit.aggregates.venue import Venue
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.links import Link, LinkSigner


@dataclass(frozen=True)
class Email:
    kind: str
    to: str
    subject_id: str
    context: dict[str, Any]
    message_id: str
    to_name: str = ""  # the recipient's display name, if they gave one
    calendar: ical.BookingTime | None = None  # the booking, for an iCalendar part

    @property
    def subject_line(self) -> str:
        """The line the outbox listing shows for this email (not the rendered Subject)."""
        return f"{self.kind}: {self.context.get('venue_name', '')} {self.context.get('date', '')}".strip()


@dataclass(frozen=True)
class Facts:
    """What an email-owing event is judged by."""

    event: Any
    state: Any  # the event's aggregate (a Booking or a WaitlistSlot) just after the event
    venue: Venue
    links: LinkSigner


OwedMail = Callable[[Facts], list[Email]]
F = TypeVar("F", bound=OwedMail)

OWED: dict[type, OwedMail] = {}


def owes(event_type: type) -> Callable[[F], F]:
    """Register the function that says which emails `event_type` owes."""

    def register(function: F) -> F:
        OWED[event_type] = function
        return function

    return register


def emails_owed(facts: Facts) -> list[Email]:
    owed = OWED.get(type(facts.event))
    return [] if owed is None else owed(facts)


# Bookings


@owes(Booking.Booked)
def booking_confirmed(facts: Facts) -> list[Email]:
    """The receipt (kind `booking-confirmed`, as the contract names it): booked, and what we will
    still ask. Its calendar entry is tentative while the booking waits for a confirmation."""
    booking: Booking = facts.state
    if booking.waitlist_entry_id is not None:
        return []  # a booking claimed from the waitlist gets the waitlist-claimed email
    context = _booking_context(facts)
    tz = facts.venue.tz
    if booking.cancel_due is None:
        note = "Nothing more to do: this booking needs no confirmation."
    elif booking.reminded_at is not None:
        by = local_time(booking.cancel_due, tz)
        note = f"Please confirm it by {by}, with the link in the reminder we have just sent."
    else:
        assert booking.reminder_due is not None
        note = (
            f"Nothing to do now: on {local_day(booking.reminder_due, tz)} we will ask you to confirm it,"
            f" by {local_time(booking.cancel_due, tz)}."
        )
    context["reminder_note"] = note
    context["tentative"] = booking.needs_confirmation
    return [_booking_email("booking-confirmed", facts, context, _booking_time(facts))]


@owes(Booking.Confirmed)
def confirmation_received(facts: Facts) -> list[Email]:
    """The owner confirmed: it says so, and the calendar's entry becomes confirmed."""
    context = _booking_context(facts)
    return [_booking_email("confirmation-received", facts, context, _booking_time(facts))]


@owes(Booking.AutoCancelWaived)
def confirmation_waived(facts: Facts) -> list[Email]:
    """An admin waived the confirmation: nothing is asked any more, and the calendar's entry
    is no longer tentative."""
    context = _booking_context(facts)
    return [_booking_email("confirmation-waived", facts, context, _booking_time(facts))]


@owes(Booking.Reminded)
def reminder(facts: Facts) -> list[Email]:
    booking: Booking = facts.state
    booking_id, expires = str(booking.id), booking.starts_at
    context = _booking_context(facts)
    context |= {
        "confirm_url": facts.links.url(Link("confirm", booking_id, expires)),
        "cancel_url": facts.links.url(Link("cancel", booking_id, expires)),
        "confirm_by": local_time(booking.cancel_due, facts.venue.tz) if booking.cancel_due else "",
    }
    return [_booking_email("reminder", facts, context)]


@owes(Booking.AutoCancelled)
def auto_cancelled(facts: Facts) -> list[Email]:
    booking: Booking = facts.state
    context = _booking_context(facts)
    context["book_url"] = _book_again(facts, booking)
    # The stored reason names its instant in UTC (for the history); the email says it in the
    # venue's zone, as it says every other time.
    assert booking.cancel_due is not None
    context["reason"] = f"not confirmed by {local_time(booking.cancel_due, facts.venue.tz)}"
    return [_booking_email("auto-cancelled", facts, context, _booking_time(facts, cancelled=True))]


@owes(Booking.Cancelled)
def booking_cancelled(facts: Facts) -> list[Email]:
    """The owner cancelled: a receipt, and the calendar's cancellation of the invitation."""
    booking: Booking = facts.state
    context = _booking_context(facts)
    context["book_url"] = _book_again(facts, booking)
    return [_booking_email("booking-cancelled", facts, context, _booking_time(facts, cancelled=True))]


def _book_again(facts: Facts, booking: Booking) -> str:
    return facts.links.venue_url(booking.venue_id, booking.date, str(booking.id))


def _booking_context(facts: Facts) -> dict[str, Any]:
    booking: Booking = facts.state
    context = _common(facts.venue, booking.date, booking.start, booking.end, booking.name)
    return context | {
        "booking_id": str(booking.id),
        "purpose": purpose_as_given(booking.purpose, booking.waitlist_entry_id),
        "confirmed": booking.confirmed,
    }


def _booking_email(
    kind: str, facts: Facts, context: dict[str, Any], calendar: ical.BookingTime | None = None
) -> Email:
    booking: Booking = facts.state
    booking_id = str(booking.id)
    return Email(
        kind, booking.user, booking_id, context, message_id(facts.event, booking_id), booking.name, calendar
    )


def _booking_time(facts: Facts, cancelled: bool = False) -> ical.BookingTime:
    """The booking for a calendar: its version at this event is the SEQUENCE, so the
    cancellation (a later event) always outranks the invitation (its first)."""
    booking: Booking = facts.state
    return ical.BookingTime(
        booking_id=str(booking.id),
        sequence=facts.event.originator_version,
        stamp=facts.event.timestamp,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        tz=facts.venue.tz,
        venue_name=facts.venue.name,
        attendee=booking.user,
        attendee_name=booking.name,
        purpose=purpose_as_given(booking.purpose, booking.waitlist_entry_id),
        cancelled=cancelled,
        tentative=booking.is_live and booking.needs_confirmation,
    )


# Waitlist entries


@owes(WaitlistSlot.Notified)
def waitlist_offer(facts: Facts) -> list[Email]:
    if facts.event.delayed:
        return []  # made in quiet hours: the email goes out when its window opens (rule 16)
    return [_offer_email(facts, facts.event.entry_id)]


@owes(WaitlistSlot.WindowOpened)
def waitlist_offer_after_quiet_hours(facts: Facts) -> list[Email]:
    return [_offer_email(facts, facts.event.entry_id)]


def _offer_email(facts: Facts, entry_id: str) -> Email:
    """The offer, from when its window opens: the deadline once, in the venue's zone, and
    whether others were offered the same freeing (batch and all modes: first claim wins)."""
    context, entry, deadline = _entry_context(facts, entry_id)
    context |= {
        "deadline": local_time(deadline, facts.venue.tz),
        "claim_url": facts.links.url(Link("claim", entry.entry_id, deadline)),
        "decline_url": facts.links.url(Link("decline", entry.entry_id, deadline)),
        # Whole minutes, rounded down like the deadline: a person never counts on time they lack.
        "minutes": max(1, (deadline - facts.event.timestamp) // timedelta(minutes=1)),
        "others_offered": max(0, entry.together - 1),
    }
    return _entry_email("waitlist-offer", facts, entry, context, entry.entry_id)


@owes(WaitlistSlot.OfferTaken)
def waitlist_taken(facts: Facts) -> list[Email]:
    """Someone offered the same freeing claimed it first: the others are still in line."""
    slot: WaitlistSlot = facts.state
    emails = []
    for entry_id in facts.event.entry_ids:
        context, entry, _ = _entry_context(facts, entry_id)
        context["position"] = slot.position(entry_id)
        emails.append(_entry_email("waitlist-taken", facts, entry, context, entry_id))
    return emails


@owes(WaitlistSlot.Expired)
def waitlist_expired(facts: Facts) -> list[Email]:
    context, entry, deadline = _entry_context(facts, facts.event.entry_id)
    context["deadline"] = local_time(deadline, facts.venue.tz)
    return [_entry_email("waitlist-expired", facts, entry, context, entry.entry_id)]


@owes(WaitlistSlot.Claimed)
def waitlist_claimed(facts: Facts) -> list[Email]:
    context, entry, _ = _entry_context(facts, facts.event.entry_id)
    slot: WaitlistSlot = facts.state
    booking_id = facts.event.booking_id
    context["booking_id"] = booking_id
    # The claim made the booking (its first event), confirmed: the calendar's invitation.
    calendar = ical.BookingTime(
        booking_id=booking_id,
        sequence=ical.FIRST_SEQUENCE,
        stamp=facts.event.timestamp,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        tz=facts.venue.tz,
        venue_name=facts.venue.name,
        attendee=entry.user,
        attendee_name=entry.name,
    )
    email = _entry_email("waitlist-claimed", facts, entry, context, booking_id, about=entry.entry_id)
    return [replace(email, calendar=calendar)]


@owes(WaitlistSlot.Closed)
def waitlist_closed(facts: Facts) -> list[Email]:
    emails = []
    for entry_id in facts.event.entry_ids:
        context, entry, _ = _entry_context(facts, entry_id)
        emails.append(_entry_email("waitlist-closed", facts, entry, context, entry_id))
    return emails


def _entry_context(facts: Facts, entry_id: str) -> tuple[dict[str, Any], Any, datetime]:
    """The context every waitlist email shares, the entry, and when its offer ends."""
    slot: WaitlistSlot = facts.state
    entry = slot.entry(entry_id)
    context = _common(facts.venue, slot.date, slot.start, slot.end, entry.name)
    context["entry_id"] = entry_id
    return context, entry, entry.deadline or slot.starts_at


def _entry_email(
    kind: str, facts: Facts, entry: Any, context: dict[str, Any], subject_id: str, about: str | None = None
) -> Email:
    mid = message_id(facts.event, about or subject_id)
    return Email(kind, entry.user, subject_id, context, mid, entry.name)


# Check-in, no-shows and suspensions (DESIGN rule 14)


@owes(Booking.CheckInOpened)
def check_in_reminder(facts: Facts) -> list[Email]:
    booking: Booking = facts.state
    assert booking.check_in_until is not None
    context = _booking_context(facts)
    context |= {
        "check_in_url": facts.links.url(Link("check-in", str(booking.id), booking.check_in_until)),
        "check_in_until": local_time(booking.check_in_until, facts.venue.tz),
    }
    return [_booking_email("check-in", facts, context)]


@owes(Booking.NoShow)
def no_show(facts: Facts) -> list[Email]:
    booking: Booking = facts.state
    assert booking.check_in_until is not None
    context = _booking_context(facts)
    rules = facts.venue.rules
    tz = facts.venue.tz
    # Rule 24: decided so late that checking in may not have been possible, it is no strike.
    no_strike = (
        f"BookIT was not running when check-in closed and only released it at"
        f" {local_time(facts.event.timestamp, tz)}, so you may not have been able to check in"
        if booking.no_strike
        else ""
    )
    context |= {
        "check_in_until": local_time(booking.check_in_until, tz),
        "strike_limit": rules.no_show_strikes if not no_strike else None,
        "strike_days": rules.strike_days,
        "no_strike": no_strike,
    }
    # Released: the calendar's entry for it is cancelled, as for any other end of a booking.
    return [_booking_email("no-show", facts, context, _booking_time(facts, cancelled=True))]


@owes(StrikeRecord.Suspended)
def suspended(facts: Facts) -> list[Email]:
    record: StrikeRecord = facts.state
    e = facts.event
    context = _common(facts.venue, e.date, e.start, e.end, "")
    context |= {
        "booking_id": e.booking_id,
        "until": local_time(e.until, facts.venue.tz),
        "strikes": e.strikes,
        "strike_days": e.days,
    }
    return [Email("suspended", record.user, e.booking_id, context, message_id(e, e.booking_id))]


# What every email shares


def _common(venue: Venue, date: str, start: str, end: str, name: str) -> dict[str, Any]:
    day = datetime.strptime(date, "%Y-%m-%d")
    return {
        "name": name,  # greets by name, or just "Hello," without one
        "venue_name": venue.name,
        "date": f"{day:%A} {day.day} {day:%B %Y}",
        "start": start,
        "end": end,
        "tz": venue.tz,
    }


def local_time(instant: datetime, tz: str) -> str:
    """An instant as people say it on the venue's wall clock: "09:15 on Tuesday 1 December".
    The zone is not repeated: every email names it once, beside the booking's times. No seconds:
    a deadline to the second (rule 6) is said rounded down, so it never promises time not there."""
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%H:%M} on {local_day(instant, tz)}"


def local_day(instant: datetime, tz: str) -> str:
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%A} {local.day} {local:%B}"


def message_id(event: Any, about: str) -> str:
    """Derived from the event and what the email is about: the same email twice is one email."""
    source = event_id(event.originator_id, event.originator_version)
    return f"<{derived_id('email', source, about)}@bookit>"


MAILED_TOPICS = frozenset(get_topic(event_type) for event_type in OWED)
