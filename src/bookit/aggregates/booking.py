"""One booking of one venue for one interval, from booked to confirmed or cancelled.

The rules a booking enforces on itself: only its owner confirms or cancels it; nothing changes
once it is cancelled or has started; the system auto-cancels it only when it is still
unconfirmed at its deadline *and* its reminder reached the owner with time to answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate
from bookit.aggregates.venue_rules import VenueRules
from bookit.config import Rules
from bookit.errors import Refused

BOOKED = "booked"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
AUTO_CANCELLED = "auto_cancelled"
NO_SHOW = "no_show"
LIVE = (BOOKED, CONFIRMED)

CLAIMED_PURPOSE = "claimed from the waitlist"  # the purpose of a booking made by a claim


def purpose_as_given(purpose: str, waitlist_entry_id: str | None) -> str:
    """The purpose its owner gave: a claim's booking keeps a placeholder, which nobody typed."""
    return "" if waitlist_entry_id is not None and purpose == CLAIMED_PURPOSE else purpose


class Booking(DomainAggregate):
    TOPIC = "bookit.Booking"

    class Created(DomainAggregate.Created):
        TOPIC = "booking.created"

    class Booked(Created):
        TOPIC = "booking.booked"
        venue_id: str
        user: str
        date: str
        start: str
        end: str
        starts_at: datetime
        ends_at: datetime
        purpose: str
        confirmed: bool
        reminder_due: datetime | None
        cancel_due: datetime | None
        waitlist_entry_id: str | None
        # The venue's rules in force when it was booked (rule 12): they, not today's, decide
        # its check-in and whether a late cancellation is a strike. Absent on older events.
        rules: dict[str, Any] | None = None
        # With check-in on (rule 14): the owner checks in from the start until this instant,
        # or the booking is released as a no-show.
        check_in_until: datetime | None = None
        name: str = ""  # the owner's display name; "" before names were kept, or none given

    class Reminded(DomainAggregate.Event):
        """The reminder is owed to the owner; the email is derived from this event."""

        TOPIC = "booking.reminded"

        def apply(self, booking: Booking) -> None:
            booking.reminded_at = self.timestamp

    class ReminderDelivered(DomainAggregate.Event):
        TOPIC = "booking.reminder_delivered"
        delivered_at: datetime

        def apply(self, booking: Booking) -> None:
            booking.reminder_delivered_at = self.delivered_at

    class Confirmed(DomainAggregate.Event):
        TOPIC = "booking.confirmed"

        def apply(self, booking: Booking) -> None:
            booking.confirmed = True
            booking.status = CONFIRMED

    class AutoCancelWaived(DomainAggregate.Event):
        TOPIC = "booking.auto_cancel_waived"

        def apply(self, booking: Booking) -> None:
            booking.waived = True

    class Cancelled(DomainAggregate.Event):
        TOPIC = "booking.cancelled"
        reason: str

        def apply(self, booking: Booking) -> None:
            booking.status = CANCELLED

    class AutoCancelled(DomainAggregate.Event):
        TOPIC = "booking.auto_cancelled"
        reason: str

        def apply(self, booking: Booking) -> None:
            booking.status = AUTO_CANCELLED

    class AutoCancelSkipped(DomainAggregate.Event):
        """The deadline passed unconfirmed, but the owner never had a fair chance (rule 5)."""

        TOPIC = "booking.auto_cancel_skipped"
        reason: str

        def apply(self, booking: Booking) -> None:
            booking.auto_cancel_skipped = True

    class CheckInOpened(DomainAggregate.Event):
        """Check-in is open: the owner is owed the check-in reminder (with its link)."""

        TOPIC = "booking.check_in_opened"

        def apply(self, booking: Booking) -> None:
            booking.check_in_opened = True

    class CheckedIn(DomainAggregate.Event):
        TOPIC = "booking.checked_in"

        def apply(self, booking: Booking) -> None:
            booking.checked_in_at = self.timestamp

    class NoShow(DomainAggregate.Event):
        """Nobody checked in by the deadline: the rest of the booking's time is released. It is
        a strike unless `no_strike` says why not (rule 24: the release was decided so long after
        check-in closed that BookIT was not running, and checking in may not have been possible).

        Version 2 added `no_strike`; every version 1 no-show was a strike."""

        TOPIC = "booking.no_show"
        class_version = 2
        reason: str
        no_strike: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["no_strike"] = ""

        def apply(self, booking: Booking) -> None:
            booking.status = NO_SHOW
            booking.no_strike = self.no_strike

    def __init__(
        self,
        venue_id: str,
        user: str,
        date: str,
        start: str,
        end: str,
        starts_at: datetime,
        ends_at: datetime,
        purpose: str,
        confirmed: bool,
        reminder_due: datetime | None,
        cancel_due: datetime | None,
        waitlist_entry_id: str | None,
        rules: dict[str, Any] | None = None,
        check_in_until: datetime | None = None,
        name: str = "",
        **_: Any,
    ) -> None:
        self.venue_id = venue_id
        self.user = user
        self.name = name
        self.date = date
        self.start = start
        self.end = end
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.purpose = purpose
        self.confirmed = confirmed
        self.status = CONFIRMED if confirmed else BOOKED
        self.reminder_due = reminder_due
        self.cancel_due = cancel_due
        self.waitlist_entry_id = waitlist_entry_id
        self.rules = VenueRules.from_dict(rules)
        self.check_in_until = check_in_until
        self.check_in_opened = False
        self.checked_in_at: datetime | None = None
        self.reminded_at: datetime | None = None
        self.reminder_delivered_at: datetime | None = None
        self.waived = False
        self.auto_cancel_skipped = False
        self.no_strike = ""  # why its release is no strike (rule 24), once released

    @classmethod
    def book(
        cls,
        booking_id: UUID,
        *,
        venue_id: str,
        user: str,
        date: str,
        start: str,
        end: str,
        starts_at: datetime,
        ends_at: datetime,
        purpose: str,
        rules: Rules,
        cause: Cause,
        waitlist_entry_id: str | None = None,
        venue_rules: VenueRules | None = None,
        name: str = "",
    ) -> Booking:
        """Book; a claim from the waitlist is confirmed by the claim itself (rule 4)."""
        now = cause.at
        confirmed = waitlist_entry_id is not None
        reminder_due: datetime | None = starts_at - rules.reminder_lead
        cancel_due: datetime | None = starts_at - rules.cancel_lead
        if confirmed or cancel_due is None or cancel_due <= now:
            # Too late to ask for a confirmation, or already confirmed: never auto-cancelled.
            cancel_due = None
        if reminder_due is not None and reminder_due <= now:
            # A late booking that still needs confirming is reminded at once; one that
            # doesn't needs no reminder beyond the booking receipt it is about to get.
            reminder_due = now if cancel_due is not None else None
        venue_rules = venue_rules or VenueRules()
        if waitlist_entry_id is None:
            refusal = venue_rules.window_refusal(starts_at, ends_at, now)
            if refusal:
                raise refusal
        check_in_until = None
        if venue_rules.check_in_minutes is not None and now < starts_at:
            # Booked by someone already there (a claim after the start) needs no check-in.
            check_in_until = min(starts_at + timedelta(minutes=venue_rules.check_in_minutes), ends_at)
        booking = cls._start(
            cls.Booked,
            booking_id,
            cause,
            venue_id=venue_id,
            user=user,
            date=date,
            start=start,
            end=end,
            starts_at=starts_at,
            ends_at=ends_at,
            purpose=purpose,
            confirmed=confirmed,
            reminder_due=reminder_due,
            cancel_due=cancel_due,
            waitlist_entry_id=waitlist_entry_id,
            rules=venue_rules.as_dict(),
            check_in_until=check_in_until,
            name=name,
        )
        if reminder_due is not None and reminder_due <= now:
            booking.remind(cause)
        return booking

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    @property
    def needs_confirmation(self) -> bool:
        return self.cancel_due is not None and not self.confirmed and not self.waived

    def remind(self, cause: Cause) -> bool:
        """Owe the owner a reminder; a second reminder, or one for a dead booking, is a no-op."""
        if not self.is_live or self.reminded_at is not None or cause.at >= self.starts_at:
            return False
        self._record(self.Reminded, cause)
        return True

    def note_reminder_delivered(self, delivered_at: datetime, cause: Cause) -> bool:
        if self.reminded_at is None or self.reminder_delivered_at is not None:
            return False
        self._record(self.ReminderDelivered, cause, delivered_at=delivered_at)
        return True

    def confirm(self, cause: Cause) -> bool:
        self._check_owner(cause, "confirm")
        self._check_changeable(cause)
        if self.confirmed:
            return False
        self._record(self.Confirmed, cause)
        return True

    def cancel(self, reason: str, cause: Cause) -> None:
        self._check_owner(cause, "cancel")
        self._check_changeable(cause)
        self._record(self.Cancelled, cause, reason=reason)

    def waive_auto_cancel(self, cause: Cause, *, actor_is_admin: bool) -> bool:
        if not actor_is_admin:
            raise Refused("only an admin may override auto-cancellation", "not_admin")
        self._check_changeable(cause)
        if self.waived or self.confirmed:
            return False
        self._record(self.AutoCancelWaived, cause)
        return True

    def auto_cancel(self, rules: Rules, cause: Cause) -> bool:
        """Cancel an unconfirmed booking at its deadline, if its owner had a fair chance.

        Returns False (and records why) when the deadline passed but the reminder never
        reached the owner, or reached them less than the grace period before the deadline.
        """
        if not self.is_live:
            raise Refused("booking is already cancelled", "already_cancelled")
        if self.cancel_due is None or self.confirmed or self.waived:
            raise Refused("booking is confirmed or needs no confirmation", "booking_confirmed")
        if cause.at < self.cancel_due:
            raise Refused("booking's confirmation deadline has not passed", "not_due")
        if self.auto_cancel_skipped:
            return False
        unfair = self._why_not_fair(rules)
        if unfair:
            self._record(self.AutoCancelSkipped, cause, reason=unfair)
            return False
        deadline = self.cancel_due.strftime("%Y-%m-%d %H:%M UTC")
        self._record(self.AutoCancelled, cause, reason=f"not confirmed by {deadline}")
        return True

    # Check-in and no-shows (DESIGN rule 14)

    def check_in(self, cause: Cause) -> bool:
        """The owner is here: from the start until the check-in deadline. Never released after."""
        self._check_owner(cause, "check in to")
        if not self.is_live:
            raise Refused(f"booking is {self.status.replace('_', ' ')}", "already_cancelled")
        if self.check_in_until is None:
            raise Refused("this booking needs no check-in", "no_check_in")
        if self.checked_in_at is not None:
            return False
        if cause.at < self.starts_at:
            raise Refused(
                f"check-in opens at the start, {self.starts_at:%Y-%m-%d %H:%M} UTC", "check_in_not_open"
            )
        if cause.at >= self.check_in_until:
            raise Refused(f"check-in closed at {self.check_in_until:%Y-%m-%d %H:%M} UTC", "check_in_closed")
        self._record(self.CheckedIn, cause)
        return True

    def open_check_in(self, cause: Cause) -> bool:
        """Check-in opens at the start: the owner is reminded (once), unless already in."""
        if self.check_in_until is None or cause.at >= self.check_in_until:
            return False
        if cause.at < self.starts_at:
            raise Refused("check-in has not opened yet", "not_due")
        if not self.is_live or self.checked_in_at is not None or self.check_in_opened:
            return False
        self._record(self.CheckInOpened, cause)
        return True

    def release_as_no_show(self, rules: Rules, cause: Cause) -> bool:
        """After the check-in deadline, a live booking nobody checked in to is a no-show: its
        time is released. Whether it is a strike is rule 24's (`_why_no_strike`)."""
        if self.check_in_until is None or not self.is_live or self.checked_in_at is not None:
            return False
        if cause.at < self.check_in_until:
            raise Refused("check-in is still open", "not_due")
        self._record(
            self.NoShow,
            cause,
            reason=f"nobody checked in by {self.check_in_until:%Y-%m-%d %H:%M} UTC",
            no_strike=self._why_no_strike(self.check_in_until, rules, cause),
        )
        return True

    @property
    def no_show_strikes(self) -> bool:
        """Released as a no-show, and it counts as a strike."""
        return self.status == NO_SHOW and not self.no_strike

    @staticmethod
    def _why_no_strike(closed_at: datetime, rules: Rules, cause: Cause) -> str:
        """DESIGN rule 24, as rule 5 for auto-cancellation: a strike needs a fair chance. A
        release decided more than the grace period (BOOKIT_REMINDER_GRACE_MINUTES) after the
        window closed was decided by a service that was not running then, so the owner may not
        have been able to act: no strike, and this says why. On time, it counts."""
        late_by = cause.at - closed_at
        if late_by <= rules.reminder_grace:
            return ""
        return (
            f"decided at {cause.at:%Y-%m-%d %H:%M} UTC, {_minutes(late_by)} min after check-in closed"
            f" (more than the {_minutes(rules.reminder_grace)} min grace): BookIT was not running then,"
            " so checking in may not have been possible"
        )

    def _why_not_fair(self, rules: Rules) -> str:
        assert self.cancel_due is not None
        latest_fair = self.cancel_due - rules.reminder_grace
        if self.reminder_delivered_at is None:
            return "reminder was never delivered"
        if self.reminder_delivered_at > latest_fair:
            late_by = self.reminder_delivered_at - latest_fair
            return (
                f"reminder delivered at {self.reminder_delivered_at:%Y-%m-%d %H:%M} UTC, "
                f"{_minutes(late_by)} min later than the {_minutes(rules.reminder_grace)} min "
                "grace before the deadline"
            )
        return ""

    def _check_owner(self, cause: Cause, action: str) -> None:
        if cause.actor != self.user:
            raise Refused(f"only the owner may {action} this booking", "not_owner")

    def _check_changeable(self, cause: Cause) -> None:
        if not self.is_live:
            raise Refused("booking is already cancelled", "already_cancelled")
        if cause.at >= self.starts_at:
            raise Refused("booking has already started", "booking_started")


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
