"""The waitlist's use cases (DESIGN rules 6-8, 15, 16): join, leave, decline, claim, and the
clock's expire, open-window and close; and how freed time reaches the queue.

Freed time is offered in the same atomic save as whatever freed it (rule 7): a cancellation,
an auto-cancellation or a no-show, an offer that expired, was declined or was given up. If
offering were a separate step there would be a moment when the slot is free and not held.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from bookit import commands as c
from bookit import rules_use_cases
from bookit.aggregates.base import Cause, derived_id
from bookit.aggregates.booking import CLAIMED_PURPOSE, Booking
from bookit.aggregates.offer_policy import OfferPolicy
from bookit.aggregates.venue_day import Interval, VenueDay
from bookit.aggregates.waitlist import WaitlistAllowance, WaitlistSlot, WaitlistTicket
from bookit.aggregates.waitlist_offers import offer_freed_time
from bookit.application_base import ApplicationBase, Outcome, StaleCopy, booking_outcome
from bookit.errors import Refused


class WaitlistUseCases(ApplicationBase):
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
        outcome = booking_outcome(booking) | {"entry_id": entry_id}
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

    def free_booked_time(self, booking: Booking, cause: Cause) -> list[Aggregate]:
        return self._free_booked_time(booking, cause)

    # Whose entry, and how many a person holds

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
