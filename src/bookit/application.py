"""The application service: one method per command, each one load, call, save.

Every use case saves everything it changed, plus the command's receipt, in one atomic `save`
(`application_base.py`, which also holds `handle`: duplicate detection by `command_id` and the
bounded retry after a lost save). Venues, admins and bookings are here; the waitlist's use
cases are in `waitlist_use_cases.py`, the venue rules' in `rules_use_cases.py`.
"""

from __future__ import annotations

import functools
import re

from bookit import commands as c
from bookit import rules_use_cases
from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.base import Cause, derived_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue import Venue
from bookit.application_base import Outcome, booking_outcome
from bookit.config import Rules
from bookit.errors import BadInput, Refused, shown
from bookit.waitlist_use_cases import WaitlistUseCases

__all__ = ["BookIT", "Outcome"]


class BookIT(WaitlistUseCases):
    def __init__(self, env: dict[str, str] | None = None, rules: Rules | None = None) -> None:
        super().__init__(env, rules)
        self._use_cases |= {
            c.RegisterVenue: self.register_venue,
            c.GrantAdmin: self.grant_admin,
            c.BookVenue: self.book_venue,
            c.ConfirmBooking: self.confirm_booking,
            c.CancelBooking: self.cancel_booking,
            c.WaiveAutoCancel: self.waive_auto_cancel,
            c.JoinWaitlist: self.join_waitlist,
            c.LeaveWaitlist: self.leave_waitlist,
            c.DeclineOffer: self.decline_offer,
            c.ClaimOffer: self.claim_offer,
            c.SendReminder: self.send_reminder,
            c.RecordReminderDelivery: self.record_reminder_delivery,
            c.AutoCancel: self.auto_cancel,
            c.ExpireOffer: self.expire_offer,
            c.OpenOfferWindow: self.open_offer_window,
            c.CloseWaitlist: self.close_waitlist,
        }
        for command_type, use_case in rules_use_cases.USE_CASES.items():
            self._use_cases[command_type] = functools.partial(use_case, self)

    # Venues and admins

    def register_venue(self, cmd: c.RegisterVenue, cause: Cause) -> Outcome:
        venue_id = cmd.venue_id or _slug(cmd.name)
        venue = Venue.register(venue_id, cmd.name, cmd.tz, cause, actor_is_admin=self.is_admin(cause.actor))
        if self._maybe(Venue, Venue.id_for(venue_id)) is not None:
            raise Refused(f"venue {shown(venue_id)} already exists", "venue_exists")
        return self._commit(cmd, cause, {"venue_id": venue_id}, venue)

    def grant_admin(self, cmd: c.GrantAdmin, cause: Cause) -> Outcome:
        roster = self._maybe(AdminRoster, AdminRoster.ID) or AdminRoster.start(cause)
        roster.grant(cmd.email, cause)
        return self._commit(cmd, cause, {"admin": cmd.email}, roster)

    # Bookings

    def book_venue(self, cmd: c.BookVenue, cause: Cause) -> Outcome:
        venue = self._venue(cmd.venue_id)
        starts_at, ends_at = self._instants(venue, cmd.date, cmd.start, cmd.end, cause)
        booking_id = derived_id("booking", cmd.command_id)
        booking = Booking.book(
            booking_id,
            venue_id=cmd.venue_id,
            user=cause.actor,
            date=cmd.date,
            start=cmd.start,
            end=cmd.end,
            starts_at=starts_at,
            ends_at=ends_at,
            purpose=cmd.purpose,
            rules=self.rules,
            cause=cause,
            venue_rules=venue.rules,
            name=cmd.name or "",
        )
        exempt = self._exempt(venue, cause)
        counted = rules_use_cases.admit(self, venue, booking, cause, actor_is_admin=exempt)
        day = self._venue_day(cmd.venue_id, cmd.date, cause)
        day.take(
            booking_id,
            cause.actor,
            starts_at,
            ends_at,
            cause,
            buffer=venue.rules.buffer_minutes,
            over_buffers=exempt,
        )
        return self._commit(cmd, cause, booking_outcome(booking), booking, day, *counted)

    def confirm_booking(self, cmd: c.ConfirmBooking, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.confirm(cause)
        return self._commit(cmd, cause, booking_outcome(booking), booking)

    def waive_auto_cancel(self, cmd: c.WaiveAutoCancel, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.waive_auto_cancel(cause, actor_is_admin=self.is_admin(cause.actor))
        return self._commit(cmd, cause, booking_outcome(booking), booking)

    def cancel_booking(self, cmd: c.CancelBooking, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.cancel(cmd.reason, cause)
        freed = self._free_booked_time(booking, cause)
        rules_effects = rules_use_cases.after_cancel(self, booking, cause, by_owner=True)
        return self._commit(cmd, cause, booking_outcome(booking), booking, *freed, *rules_effects)

    def send_reminder(self, cmd: c.SendReminder, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        reminded = booking.remind(cause)
        return self._commit(cmd, cause, {"booking_id": str(booking.id), "reminded": reminded}, booking)

    def record_reminder_delivery(self, cmd: c.RecordReminderDelivery, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.note_reminder_delivered(cmd.delivered_at, cause)
        return self._commit(cmd, cause, {"booking_id": str(booking.id)}, booking)

    def auto_cancel(self, cmd: c.AutoCancel, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        try:
            cancelled = booking.auto_cancel(self.rules, cause)
        except Refused as refusal:
            # The timer nominated it, the booking declined (confirmed meanwhile, say): the
            # receipt still records the timer as handled so it is not nominated again.
            return self._settled_without_effect(cmd, cause, refusal, booking)
        freed = self._free_booked_time(booking, cause) if cancelled else []
        if cancelled:
            freed += rules_use_cases.after_cancel(self, booking, cause, by_owner=False)
        return self._commit(cmd, cause, booking_outcome(booking), booking, *freed)


def _slug(name: str) -> str:
    # Transliterated first (text-unidecode: "Café Zoë" -> "Cafe Zoe"), so a name in any script
    # keeps its letters in the id instead of losing them.
    from text_unidecode import unidecode

    slug = re.sub(r"[^a-z0-9]+", "-", unidecode(name).lower()).strip("-")[:64].strip("-")
    if not slug:
        raise BadInput(f"cannot derive a venue id from the name {shown(name)}; pass --id", "bad_venue_id")
    return slug
