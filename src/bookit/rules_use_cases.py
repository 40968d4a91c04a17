"""Use cases of the venue rules (DESIGN rules 12-14), beside the application service.

Each is a function of the application and one command: load, call, one atomic save, as in
`application.py`, which dispatches to them. They live apart so that neither file needs a table
of contents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.booking import Booking
from bookit.aggregates.quota import QuotaCounter
from bookit.aggregates.strikes import LATE_CANCEL, NO_SHOW, StrikeRecord
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_rules import Quota, VenueRules
from bookit.config import Rules
from bookit.errors import BadInput, Refused

if TYPE_CHECKING:
    from bookit.application_base import Outcome
    from bookit.waitlist_use_cases import WaitlistUseCases as App

_DEFAULTS = {f.name: getattr(VenueRules(), f.name) for f in fields(VenueRules)}


def set_venue_rules(app: App, cmd: c.SetVenueRules, cause: Cause) -> Outcome:
    venue = app.venue(cmd.venue_id)
    rules = apply_changes(venue.rules, cmd.changes())
    problems = rules.problems()
    if problems:
        raise BadInput("; ".join(problems), "bad_rules")
    actor_is_admin = cause.actor == SYSTEM or app.is_admin(cause.actor)
    changed = venue.set_rules(rules, cause, actor_is_admin=actor_is_admin)
    outcome = {"venue_id": cmd.venue_id, "changed": changed, "rules": rules.as_dict()}
    return app.commit(cmd, cause, outcome, venue)


def apply_changes(rules: VenueRules, changes: dict[str, Any]) -> VenueRules:
    """`rules` with the command's changes: a field set to None goes back to its default."""
    values: dict[str, Any] = {}
    quotas = {kind: rules.quotas_of(kind) for kind in ("bookings", "hours")}
    for name, value in changes.items():
        if name.startswith("quota_"):
            kind = name.removeprefix("quota_")
            quotas[kind] = tuple(_quota(kind, text) for text in value or ())
        else:
            values[name] = _DEFAULTS[name] if value is None else value
    values["quotas"] = quotas["bookings"] + quotas["hours"]
    return replace(rules, **values)


def _quota(kind: str, text: str) -> Quota:
    amount, period = text.split("/")
    return Quota(kind=kind, limit=int(amount) if kind == "bookings" else float(amount), period=period)


# Admission: what a new booking (or a claim) must pass besides the venue-day (rules 13, 14)


def admit(app: App, venue: Venue, booking: Booking, cause: Cause, *, actor_is_admin: bool) -> list[Aggregate]:
    """Refuse a suspended user; count the booking against the venue's quotas (admins are
    exempt). Returns the counters to save with the booking."""
    rules = venue.rules
    refuse_if_suspended(app, venue, booking.user, cause)
    if actor_is_admin or not rules.quotas:
        return []
    minutes = int((booking.ends_at - booking.starts_at) / timedelta(minutes=1))
    counters: list[Aggregate] = []
    for period in sorted({q.period for q in rules.quotas}):
        ident = QuotaCounter.id_for(booking.user, venue.venue_id, period, booking.date)
        counter = app.maybe(QuotaCounter, ident) or QuotaCounter.open(
            booking.user, venue.venue_id, period, booking.date, cause
        )
        counter.count(booking.id, minutes, [q for q in rules.quotas if q.period == period], cause)
        counters.append(counter)
    return counters


def refuse_if_suspended(app: App, venue: Venue, user: str, cause: Cause) -> None:
    rules = venue.rules
    if rules.no_show_strikes is None:
        return
    record = app.maybe(StrikeRecord, StrikeRecord.id_for(user, venue.venue_id))
    if record is not None:
        record.refuse_if_suspended(cause.at, rules.no_show_strikes, rules.strike_days, venue.tz)


def after_cancel(app: App, booking: Booking, cause: Cause, *, by_owner: bool) -> list[Aggregate]:
    """A cancelled booking stops counting against quotas; the owner's cancellation inside the
    late-cancel window it was booked under is a strike."""
    changed: list[Aggregate] = []
    for period in sorted({q.period for q in booking.rules.quotas}):
        counter = app.maybe(
            QuotaCounter, QuotaCounter.id_for(booking.user, booking.venue_id, period, booking.date)
        )
        if counter is not None and counter.uncount(booking.id, cause):
            changed.append(counter)
    late = booking.rules.late_cancel_minutes
    if by_owner and late is not None and booking.starts_at - cause.at <= timedelta(minutes=late):
        changed.append(_strike(app, booking, LATE_CANCEL, cause))
    return changed


def _strike(app: App, booking: Booking, reason: str, cause: Cause) -> StrikeRecord:
    venue = app.venue(booking.venue_id)
    ident = StrikeRecord.id_for(booking.user, booking.venue_id)
    record = app.maybe(StrikeRecord, ident) or StrikeRecord.open(booking.user, booking.venue_id, cause)
    rules = venue.rules
    slot = (booking.date, booking.start, booking.end)
    record.strike(booking.id, reason, cause, rules.no_show_strikes, rules.strike_days, slot)
    return record


# Check-in and no-shows (rule 14)


def check_in(app: App, cmd: c.CheckIn, cause: Cause) -> Outcome:
    booking = app.booking(cmd.booking_id)
    booking.check_in(cause)
    return app.commit(cmd, cause, {"booking_id": str(booking.id), "checked_in": True}, booking)


def open_check_in(app: App, cmd: c.OpenCheckIn, cause: Cause) -> Outcome:
    booking = app.booking(cmd.booking_id)
    try:
        opened = booking.open_check_in(cause)
    except Refused as refusal:
        return app.settled_without_effect(cmd, cause, refusal, booking)
    return app.commit(cmd, cause, {"booking_id": str(booking.id), "opened": opened}, booking)


def release_no_show(app: App, cmd: c.ReleaseNoShow, cause: Cause) -> Outcome:
    """Past the check-in deadline: release the booking, offer its time to the queues (the same
    hold-and-offer path as a cancellation, in the same save) and record the strike, unless the
    booking says it is none (rule 24: decided too late for check-in to have been possible)."""
    booking = app.booking(cmd.booking_id)
    try:
        released = booking.release_as_no_show(app.rules, cause)
    except Refused as refusal:
        return app.settled_without_effect(cmd, cause, refusal, booking)
    if not released:
        return app.commit(cmd, cause, {"skipped": "checked in, or no longer live"}, booking)
    freed = app.free_booked_time(booking, cause)
    strikes = [_strike(app, booking, NO_SHOW, cause)] if booking.no_show_strikes else []
    outcome = {"booking_id": str(booking.id), "status": booking.status, "strike": bool(strikes)}
    return app.commit(cmd, cause, outcome, booking, *freed, *strikes)


# Strikes, by admins


def waive_strike(app: App, cmd: c.WaiveStrike, cause: Cause) -> Outcome:
    booking = app.booking(cmd.booking_id)
    if not _admin(app, cause):
        raise Refused("only an admin may waive a strike", "not_admin")
    record = app.maybe(StrikeRecord, StrikeRecord.id_for(booking.user, booking.venue_id))
    if record is None:
        raise Refused("this booking has no strike to waive", "no_strike")
    record.waive(str(booking.id), cause, actor_is_admin=True)
    return app.commit(cmd, cause, {"booking_id": str(booking.id), "waived": True}, record)


def clear_strikes(app: App, cmd: c.ClearStrikes, cause: Cause) -> Outcome:
    app.venue(cmd.venue_id)
    record = app.maybe(StrikeRecord, StrikeRecord.id_for(cmd.user, cmd.venue_id))
    if not _admin(app, cause):
        raise Refused("only an admin may clear strikes", "not_admin")
    cleared = record.clear(cause, actor_is_admin=True) if record is not None else 0
    outcome = {"user": cmd.user, "venue_id": cmd.venue_id, "cleared": cleared}
    return app.commit(cmd, cause, outcome, *([record] if record is not None else []))


def _admin(app: App, cause: Cause) -> bool:
    return cause.actor == SYSTEM or app.is_admin(cause.actor)


def admit_to_queue(
    app: App, venue: Venue, user: str, starts_at: datetime, ends_at: datetime, cause: Cause
) -> None:
    """A queue is for what could be booked: the venue's durations and advance apply (not its
    notice: freed time may be claimed at any notice), and a suspended user may not join."""
    refusal = venue.rules.window_refusal(starts_at, ends_at, cause.at, notice=False)
    if refusal:
        raise refusal
    refuse_if_suspended(app, venue, user, cause)


def queue_closes_at(venue: Venue, starts_at: datetime, ends_at: datetime, rules: Rules) -> datetime | None:
    """With check-in on, a no-show may free a slot after it has started (rule 14): its queue
    stays open until the slot ends less a usable claim window, so that offers end before the
    slot does. Without check-in it closes at the start (rule 6: None)."""
    if venue.rules.check_in_minutes is None:
        return None
    return max(starts_at, ends_at - rules.offer_window)


USE_CASES: dict[type[c.Command], Callable[..., Outcome]] = {
    c.SetVenueRules: set_venue_rules,
    c.CheckIn: check_in,
    c.OpenCheckIn: open_check_in,
    c.ReleaseNoShow: release_no_show,
    c.WaiveStrike: waive_strike,
    c.ClearStrikes: clear_strikes,
}
