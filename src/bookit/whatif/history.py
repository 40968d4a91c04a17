"""What people did, and when the service ticked, read from the real store (never written).

An *action* is a command a person (or an admin, or the operator) sent that left events: a venue
registered, an admin granted, a venue's rules set, a booking made, confirmed, cancelled, waived
or checked in, a queue joined or left, an offer claimed or declined. It is rebuilt from its
first event with the recorded actor, instant and `command_id`, so the scratch store derives the
same booking and entry ids from it. What the clock did (reminders, auto-cancellations, expiries,
closed queues) is not an action: the scratch service does it again under the changed rules.

The *tick instants* are when the recorded service ran timer work: the instants of events caused
by a timer's command. Replaying at those instants gives every timer that history had the same
moment it had then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.venue import Venue
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.application import BookIT
from bookit.bootstrap import store_env
from bookit.errors import BadInput

# Commands the clock issues; their events' instants are when the service ticked.
TIMER_COMMANDS = frozenset(
    {
        "SendReminder",
        "AutoCancel",
        "ExpireOffer",
        "CloseWaitlist",
        "OpenOfferWindow",
        "OpenCheckIn",
        "ReleaseNoShow",
    }
)
_TIMER_EVENTS = (
    Booking.Reminded,
    Booking.AutoCancelled,
    Booking.AutoCancelSkipped,
    Booking.CheckInOpened,
    Booking.NoShow,
    WaitlistSlot.Expired,
    WaitlistSlot.Closed,
    WaitlistSlot.WindowOpened,
)


@dataclass(frozen=True)
class Action:
    at: datetime
    position: int  # where its first event is in the log: the order of actions at one instant
    command: str  # a command type of commands.py
    actor: str
    command_id: str
    fields: dict[str, Any]
    venue_id: str | None = None

    def label(self) -> str:
        about = self.fields.get("booking_id") or self.fields.get("entry_id") or ""
        where = " ".join(str(self.fields[k]) for k in ("venue_id", "date", "start") if k in self.fields)
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.command} by {self.actor} {where or about}".strip()


@dataclass
class History:
    actions: list[Action] = field(default_factory=list)
    ticks: list[tuple[datetime, int]] = field(default_factory=list)  # (instant, first position)
    venues: dict[str, str] = field(default_factory=dict)  # venue id -> zone


def require_store(home: Path, store: str) -> None:
    """Refuse (exit 2 `no_store`) a command that only reads a store, when the embedded one is not
    there: it would otherwise create an empty one and report on nothing."""
    if store == "sqlite" and not (home / "events.sqlite").exists():
        raise BadInput(
            f"no BookIT store in {home} (events.sqlite is missing): give the service's home with "
            "--home or BOOKIT_HOME (`bookit run` and every command default to ./.bookit)",
            "no_store",
        )


def open_store(home: str | Path, store: str) -> BookIT:
    """The real event store, for reading: no table is created, nothing is ever saved."""
    home = Path(home)
    require_store(home, store)
    env, _ = store_env(home, store)
    return BookIT(env={**env, "CREATE_TABLE": "n"})


def read_history(app: BookIT, venue: str | None = None) -> History:
    history = History()
    ticks: dict[datetime, int] = {}
    seen_commands: set[str] = set()
    slots: dict[str, tuple[str, str, str, str]] = {}  # slot id -> venue, date, start, end
    bookings: dict[str, str] = {}  # booking id -> venue
    for position, event in _events(app):
        if isinstance(event, CommandReceipt.Handled):
            if event.command_type in TIMER_COMMANDS:
                ticks.setdefault(event.timestamp, position)
            continue
        if isinstance(event, _TIMER_EVENTS) and event.actor == SYSTEM:
            ticks.setdefault(event.timestamp, position)
        if isinstance(event, WaitlistSlot.Opened):
            slots[str(event.originator_id)] = (event.venue_id, event.date, event.start, event.end)
        if isinstance(event, Booking.Booked):
            bookings[str(event.originator_id)] = event.venue_id
        if isinstance(event, Venue.Registered):
            history.venues[event.venue_id] = event.tz
        action = _action(event, position, slots, bookings)
        if action is None or action.command_id in seen_commands:
            continue  # one action per command: a command's later events are its effects
        if venue is not None and action.venue_id not in (None, venue):
            continue
        seen_commands.add(action.command_id)
        history.actions.append(action)
    history.ticks = sorted(ticks.items())
    return history


def _events(app: BookIT) -> Iterator[tuple[int, Any]]:
    position = 1
    while True:
        page = app.recorder.select_notifications(start=position, limit=2000)
        if not page:
            return
        for notification in page:
            yield notification.id, app.mapper.to_domain_event(notification)
        position = page[-1].id + 1


def _action(
    e: Any, position: int, slots: dict[str, tuple[str, str, str, str]], bookings: dict[str, str]
) -> Action | None:
    def act(command: str, where: str | None, **fields: Any) -> Action:
        return Action(e.timestamp, position, command, e.actor, e.command_id, fields, where)

    booking_id = str(e.originator_id)
    if isinstance(e, Venue.Registered):
        return act("RegisterVenue", e.venue_id, name=e.name, tz=e.tz, venue_id=e.venue_id)
    if isinstance(e, AdminRoster.AdminGranted):
        return act("GrantAdmin", None, email=e.email)
    if isinstance(e, Venue.RulesSet):
        return act("SetVenueRules", e.venue_id, venue_id=e.venue_id, **_rule_fields(e.rules, e.changed))
    if isinstance(e, Booking.Booked) and e.waitlist_entry_id is None:
        fields = {
            "venue_id": e.venue_id,
            "date": e.date,
            "start": e.start,
            "end": e.end,
            "purpose": e.purpose,
        }
        return act("BookVenue", e.venue_id, **fields)
    simple = {
        Booking.Confirmed: "ConfirmBooking",
        Booking.AutoCancelWaived: "WaiveAutoCancel",
        Booking.CheckedIn: "CheckIn",
    }
    if type(e) in simple and e.actor != SYSTEM:
        return act(simple[type(e)], bookings.get(booking_id), booking_id=booking_id)
    if isinstance(e, Booking.Cancelled) and e.actor != SYSTEM:
        return act("CancelBooking", bookings.get(booking_id), booking_id=booking_id, reason=e.reason)
    slot = slots.get(str(e.originator_id))
    if isinstance(e, WaitlistSlot.Joined) and slot is not None:
        venue_id, date, start, end = slot
        extra: dict[str, Any] = {"priority": e.priority} if e.priority else {}
        if e.user != e.actor:
            extra["user"] = e.user
        return act("JoinWaitlist", venue_id, venue_id=venue_id, date=date, start=start, end=end, **extra)
    entry_commands = {
        WaitlistSlot.Left: "LeaveWaitlist",
        WaitlistSlot.Declined: "DeclineOffer",
        WaitlistSlot.Claimed: "ClaimOffer",
    }
    if type(e) in entry_commands and e.actor != SYSTEM:
        return act(entry_commands[type(e)], slot[0] if slot else None, entry_id=e.entry_id)
    return None


def _rule_fields(rules: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    """A recorded RulesSet as the SetVenueRules fields that made it."""
    fields: dict[str, Any] = {}
    for name in changed:
        if name != "quotas":
            fields[name] = rules.get(name)
            continue
        for kind in ("bookings", "hours"):
            quotas = [q for q in rules.get("quotas", []) if q["kind"] == kind]
            amounts = [
                f"{int(q['limit']) if float(q['limit']).is_integer() else q['limit']}/{q['period']}"
                for q in quotas
            ]
            fields[f"quota_{kind}"] = amounts or None
    return fields


def _amount(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)
