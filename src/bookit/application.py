"""The application service: one method per command, each one load, call, save.

Every use case saves everything it changed, plus the command's receipt, in one atomic `save`.
`handle` adds what every command needs: duplicate detection by `command_id`, and a bounded
retry when another worker saved one of the same aggregates first (optimistic concurrency).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from bookit import commands as c
from bookit import rules_use_cases
from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.base import Cause, derived_id
from bookit.aggregates.booking import CLAIMED_PURPOSE, Booking
from bookit.aggregates.offer_policy import OfferPolicy
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.transcodings import register_value_objects
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_day import Interval, VenueDay
from bookit.aggregates.waitlist import WaitlistAllowance, WaitlistSlot, WaitlistTicket
from bookit.aggregates.waitlist_offers import offer_freed_time
from bookit.config import Rules
from bookit.errors import BadInput, NotFound, Refused, shown
from bookit.localtime import parse_date, parse_time, to_utc

A = TypeVar("A", bound=Aggregate)
Outcome = dict[str, Any]

MAX_ATTEMPTS = 5


class LostRace(Refused):
    def __init__(self, attempts: int) -> None:
        super().__init__(
            f"too busy: other commands kept changing the same booking or slot "
            f"({attempts} attempts); try again",
            "contention",
        )


class StaleCopy(Exception):
    """A use case noticed it decided on a copy that changed under it: decide again, as after a
    lost save."""


class BookIT(Application[UUID]):
    name = "bookit"
    # Long-lived aggregates (a busy venue-day, a long queue) load from a recent snapshot.
    snapshotting_intervals = {VenueDay: 50, WaitlistSlot: 50, AdminRoster: 50}

    def __init__(self, env: dict[str, str] | None = None, rules: Rules | None = None) -> None:
        super().__init__(env)
        self.rules = rules or Rules()
        self._use_cases: dict[type[c.Command], Callable[[Any, Cause], Outcome]] = {
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

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)

    # The one entry point

    def handle(self, command: c.Command, now: datetime) -> Outcome:
        """Run a command once; a repeated command_id gets the first outcome back."""
        use_case = self._use_cases.get(type(command))
        if use_case is None:
            raise BadInput(f"no handler for {type(command).__name__}", "unknown_command")
        cause = Cause(actor=command.actor, command_id=str(command.command_id), at=now)
        for _attempt in range(MAX_ATTEMPTS):
            earlier = self.outcome_of(command.command_id)
            if earlier is not None:
                return earlier
            try:
                return use_case(command, cause)
            except (IntegrityError, StaleCopy):
                continue  # someone saved first: reload and decide again
        raise LostRace(MAX_ATTEMPTS)

    def outcome_of(self, command_id: UUID | str) -> Outcome | None:
        try:
            receipt: Aggregate = self.repository.get(CommandReceipt.id_for(command_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        return receipt.outcome

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

    def is_admin(self, email: str) -> bool:
        roster = self._maybe(AdminRoster, AdminRoster.ID)
        return roster is not None and roster.is_admin(email)

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
        return self._commit(cmd, cause, _booking_outcome(booking), booking, day, *counted)

    def confirm_booking(self, cmd: c.ConfirmBooking, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.confirm(cause)
        return self._commit(cmd, cause, _booking_outcome(booking), booking)

    def waive_auto_cancel(self, cmd: c.WaiveAutoCancel, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.waive_auto_cancel(cause, actor_is_admin=self.is_admin(cause.actor))
        return self._commit(cmd, cause, _booking_outcome(booking), booking)

    def cancel_booking(self, cmd: c.CancelBooking, cause: Cause) -> Outcome:
        booking = self._booking(cmd.booking_id)
        booking.cancel(cmd.reason, cause)
        freed = self._free_booked_time(booking, cause)
        rules_effects = rules_use_cases.after_cancel(self, booking, cause, by_owner=True)
        return self._commit(cmd, cause, _booking_outcome(booking), booking, *freed, *rules_effects)

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
        return self._commit(cmd, cause, _booking_outcome(booking), booking, *freed)

    # Waitlist

    def join_waitlist(self, cmd: c.JoinWaitlist, cause: Cause) -> Outcome:
        user = cmd.user or cause.actor
        WaitlistSlot.check_joiner(user, cmd.priority, cause, actor_is_admin=self.is_admin(cause.actor))
        venue = self._venue(cmd.venue_id)
        starts_at, ends_at = self._instants(venue, cmd.date, cmd.start, cmd.end, cause)
        rules_use_cases.admit_to_queue(self, venue, user, starts_at, ends_at, cause)
        day = self._venue_day(cmd.venue_id, cmd.date, cause)
        day.check_queueable(user, starts_at, ends_at, venue.rules.buffer_minutes)
        slot_id = WaitlistSlot.id_for(cmd.venue_id, cmd.date, cmd.start, cmd.end)
        slot = self._maybe(WaitlistSlot, slot_id) or WaitlistSlot.open(
            cmd.venue_id,
            cmd.date,
            cmd.start,
            cmd.end,
            starts_at,
            ends_at,
            cause,
            closes_at=rules_use_cases.queue_closes_at(venue, starts_at, ends_at, self.rules),
        )
        entry_id = derived_id("waitlist-entry", cmd.command_id)
        allowance = self._maybe(WaitlistAllowance, WaitlistAllowance.id_for(user, cmd.date))
        allowance = allowance or WaitlistAllowance.open(user, cmd.date, cause)
        allowance.count(
            entry_id, slot_id, self._active_entries(allowance), self.rules.waitlist_limit_per_day, cause
        )
        position = slot.join(entry_id, user, cmd.priority or 0, cause, name=cmd.name or "")
        day.note_queue(slot_id, Interval(starts_at, ends_at), cause)
        ticket = WaitlistTicket.issue(entry_id, slot_id, user, cause)
        outcome = {"entry_id": str(entry_id), "position": position}
        return self._commit(cmd, cause, outcome, slot, day, allowance, ticket)

    def leave_waitlist(self, cmd: c.LeaveWaitlist, cause: Cause) -> Outcome:
        slot = self._slot_of_entry(cmd.entry_id)
        gave_up_offer = slot.leave(
            str(cmd.entry_id), cause, owner=self._owner_if_forgotten(slot, cmd.entry_id)
        )
        changed = self._pass_offer_on(slot, str(cmd.entry_id), cause) if gave_up_offer else [slot]
        return self._commit(cmd, cause, {"entry_id": str(cmd.entry_id)}, *changed)

    def decline_offer(self, cmd: c.DeclineOffer, cause: Cause) -> Outcome:
        slot = self._slot_of_entry(cmd.entry_id)
        slot.decline(str(cmd.entry_id), cause, owner=self._owner_if_forgotten(slot, cmd.entry_id))
        changed = self._pass_offer_on(slot, str(cmd.entry_id), cause)
        return self._commit(cmd, cause, {"entry_id": str(cmd.entry_id)}, *changed)

    def expire_offer(self, cmd: c.ExpireOffer, cause: Cause) -> Outcome:
        slot = self._get(WaitlistSlot, cmd.slot_id, "waitlist slot")
        try:
            expired = slot.expire(str(cmd.entry_id), cause)
        except Refused as refusal:
            return self._settled_without_effect(cmd, cause, refusal, slot)
        changed = self._pass_offer_on(slot, str(cmd.entry_id), cause) if expired else [slot]
        return self._commit(cmd, cause, {"entry_id": str(cmd.entry_id), "expired": expired}, *changed)

    def open_offer_window(self, cmd: c.OpenOfferWindow, cause: Cause) -> Outcome:
        slot = self._get(WaitlistSlot, cmd.slot_id, "waitlist slot")
        try:
            opened = slot.open_window(str(cmd.entry_id), cause)
        except Refused as refusal:
            return self._settled_without_effect(cmd, cause, refusal, slot)
        return self._commit(cmd, cause, {"entry_id": str(cmd.entry_id), "opened": opened}, slot)

    def claim_offer(self, cmd: c.ClaimOffer, cause: Cause) -> Outcome:
        slot = self._slot_of_entry(cmd.entry_id)
        owner = self._owner_if_forgotten(slot, cmd.entry_id)
        read_at_version = slot.version
        entry_id = str(cmd.entry_id)
        booking_id = derived_id("booking", cmd.command_id)
        claimant = slot.entries.get(entry_id)  # read first: a claim may end other offers too
        slot.claim(entry_id, booking_id, cause, owner=owner)
        name = claimant.name if claimant is not None else ""
        venue = self._venue(slot.venue_id)
        day = self._venue_day(slot.venue_id, slot.date, cause)
        try:
            day.take(booking_id, cause.actor, slot.starts_at, slot.ends_at, cause, claiming_entry=entry_id)
        except Refused:
            # The venue-day may be newer than our copy of the slot: another click on this offer
            # won in between. Decided again from fresh copies, the loser hears "no open offer"
            # (the truth) rather than "slot is taken" (by the winner: his own booking).
            if self._slot_of_entry(cmd.entry_id).version != read_at_version:
                raise StaleCopy() from None
            raise
        booking = Booking.book(
            booking_id,
            venue_id=slot.venue_id,
            user=cause.actor,
            date=slot.date,
            start=slot.start,
            end=slot.end,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            purpose=CLAIMED_PURPOSE,
            rules=self.rules,
            cause=cause,
            waitlist_entry_id=entry_id,
            venue_rules=venue.rules,
            name=name,
        )
        counted = rules_use_cases.admit(
            self, venue, booking, cause, actor_is_admin=self._exempt(venue, cause)
        )
        outcome = _booking_outcome(booking) | {"entry_id": entry_id}
        return self._commit(cmd, cause, outcome, slot, day, booking, *counted)

    def close_waitlist(self, cmd: c.CloseWaitlist, cause: Cause) -> Outcome:
        slot = self._get(WaitlistSlot, cmd.slot_id, "waitlist slot")
        try:
            remaining = slot.close(cause)
        except Refused as refusal:
            return self._settled_without_effect(cmd, cause, refusal, slot)
        day = self._venue_day(slot.venue_id, slot.date, cause)
        changed: list[Aggregate] = [slot, day]
        for entry in remaining:
            freed = day.lift_hold(entry.entry_id, cause)
            if freed is not None:
                # An overlapping queue whose slot starts later may now be offered this time.
                others = [s for s in self._slots_of(day, freed) if s.id != slot.id]
                policy = self.offer_policy(slot.venue_id)
                changed += offer_freed_time(day, freed, others, policy, cause, self._buffer(day))
        return self._commit(cmd, cause, {"closed": len(remaining)}, *changed)

    def waitlist_slot(self, slot_id: UUID) -> WaitlistSlot:
        return self._get(WaitlistSlot, slot_id, "waitlist slot")

    def booking(self, booking_id: UUID) -> Booking:
        return self._booking(booking_id)

    # How freed time reaches the queue: in the same save as whatever freed it (rule 7)

    def _free_booked_time(self, booking: Booking, cause: Cause) -> list[Aggregate]:
        day = self._venue_day(booking.venue_id, booking.date, cause)
        freed = day.release(booking.id, cause)
        if freed is None:
            return [day]
        policy = self.offer_policy(booking.venue_id)
        offered = offer_freed_time(day, freed, self._slots_of(day, freed), policy, cause, self._buffer(day))
        return [day, *offered]

    def _pass_offer_on(self, slot: WaitlistSlot, entry_id: str, cause: Cause) -> list[Aggregate]:
        if slot.open_offers():
            return [slot]  # others offered the same freeing still hold it (batch, all)
        day = self._venue_day(slot.venue_id, slot.date, cause)
        freed = day.lift_hold(entry_id, cause)
        if freed is None:
            return [slot, day]
        others = [s for s in self._slots_of(day, freed) if s.id != slot.id]
        policy = self.offer_policy(slot.venue_id)
        offered = offer_freed_time(day, freed, [slot, *others], policy, cause, self._buffer(day))
        return [slot, day, *(s for s in offered if s.id != slot.id)]

    def offer_policy(self, venue_id: str) -> OfferPolicy:
        """How freed time at this venue is offered now: its rules in force, else the config's."""
        venue = self._venue(venue_id)
        rules = venue.rules
        return self.rules.offer_policy(
            venue.tz,
            offer_window=None if rules.offer_window is None else str(rules.offer_window),
            quiet_hours=rules.quiet_hours,
            # A venue's `one` is also what a venue that never set a mode has: it defers to the
            # configured mode (BOOKIT_OFFER_MODE, itself `one` unless set).
            offer_mode=None if rules.offer_mode == "one" else rules.offer_mode,
        )

    def _slots_of(self, day: VenueDay, freed: Interval) -> list[WaitlistSlot]:
        return [self._get(WaitlistSlot, UUID(s), "waitlist slot") for s in day.queues_overlapping(freed)]

    def _buffer(self, day: VenueDay) -> int:
        """The changeover an offer of freed time is made under: the venue's rules now."""
        return self._venue(day.venue_id).rules.buffer_minutes

    def _exempt(self, venue: Venue, cause: Cause) -> bool:
        """Admins book over buffers and outside quotas (asked only when the venue has either)."""
        rules = venue.rules
        return bool(rules.buffer_minutes or rules.quotas) and self.is_admin(cause.actor)

    def _settled_without_effect(
        self, cmd: c.Command, cause: Cause, refusal: Refused, *unchanged: Aggregate
    ) -> Outcome:
        if refusal.code == "not_due":
            raise refusal  # too early: no receipt, so the timer stays and a later tick retries
        return self._commit(cmd, cause, {"skipped": refusal.message}, *unchanged)

    # Loading and saving

    # For the use cases beside this class (rules_use_cases.py)

    def commit(self, cmd: c.Command, cause: Cause, outcome: Outcome, *changed: Aggregate) -> Outcome:
        """Save what a use case changed and the command's receipt, in one atomic save."""
        return self._commit(cmd, cause, outcome, *changed)

    def venue(self, venue_id: str) -> Venue:
        return self._venue(venue_id)

    def maybe(self, cls: type[A], ident: UUID) -> A | None:
        return self._maybe(cls, ident)

    def settled_without_effect(
        self, cmd: c.Command, cause: Cause, refusal: Refused, *unchanged: Aggregate
    ) -> Outcome:
        return self._settled_without_effect(cmd, cause, refusal, *unchanged)

    def free_booked_time(self, booking: Booking, cause: Cause) -> list[Aggregate]:
        return self._free_booked_time(booking, cause)

    def _commit(self, cmd: c.Command, cause: Cause, outcome: Outcome, *changed: Aggregate) -> Outcome:
        receipt = CommandReceipt.handled(type(cmd).__name__, outcome, cause)
        self.save(*changed, receipt)
        return outcome

    def _get(self, cls: type[A], ident: UUID, what: str) -> A:
        aggregate = self._maybe(cls, ident)
        if aggregate is None:
            raise NotFound(what, ident)
        return aggregate

    def _maybe(self, cls: type[A], ident: UUID) -> A | None:
        try:
            aggregate: Aggregate = self.repository.get(ident)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            return None
        return aggregate

    def _booking(self, booking_id: UUID) -> Booking:
        return self._get(Booking, booking_id, "booking")

    def _venue(self, venue_id: str) -> Venue:
        venue = self._maybe(Venue, Venue.id_for(venue_id))
        if venue is None:
            raise NotFound("venue", venue_id)
        return venue

    def _venue_day(self, venue_id: str, date: str, cause: Cause) -> VenueDay:
        return self._maybe(VenueDay, VenueDay.id_for(venue_id, date)) or VenueDay.open(venue_id, date, cause)

    def _slot_of_entry(self, entry_id: UUID) -> WaitlistSlot:
        ticket = self._get(WaitlistTicket, entry_id, "waitlist entry")
        return self._get(WaitlistSlot, UUID(ticket.slot_id), "waitlist slot")

    def _owner_if_forgotten(self, slot: WaitlistSlot, entry_id: UUID) -> str | None:
        """Whose an entry is, from its ticket, once its slot has forgotten it (out of the queue):
        what the slot needs to refuse a stranger then (rule 10)."""
        if str(entry_id) in slot.entries:
            return None
        return self._get(WaitlistTicket, entry_id, "waitlist entry").user

    def _active_entries(self, allowance: WaitlistAllowance) -> int:
        active = 0
        for entry_id, slot_id in allowance.counted.items():
            slot = self._maybe(WaitlistSlot, UUID(slot_id))
            if slot is not None and slot.is_active(entry_id):
                active += 1
        return active

    def _instants(
        self, venue: Venue, date: str, start: str, end: str, cause: Cause
    ) -> tuple[datetime, datetime]:
        day = parse_date(date)
        starts_at = to_utc(day, parse_time(start), venue.tz)
        ends_at = to_utc(day, parse_time(end), venue.tz)
        if ends_at <= starts_at:
            raise BadInput(f"end {end} is not after start {start}", "end_before_start")
        if starts_at <= cause.at:
            raise BadInput(f"{date} {start} in {venue.tz} is in the past", "in_the_past")
        return starts_at, ends_at


def _booking_outcome(booking: Booking) -> Outcome:
    return {"booking_id": str(booking.id), "status": booking.status}


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]
    if not slug:
        raise BadInput(f"cannot derive a venue id from the name {shown(name)}; pass --id", "bad_venue_id")
    return slug
