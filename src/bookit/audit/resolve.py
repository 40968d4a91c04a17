"""What an id names: a booking, a waitlist entry or a waitlist slot, asked of the event store.

People paste ids from emails, `bookit bookings` or `waitlist mine`; they should not have to say
which kind it is. An entry id names its `WaitlistTicket` (which says where the entry lives), a
slot id its `WaitlistSlot`. Anything else, or nothing at all, is bad input (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from bookit.aggregates.booking import Booking
from bookit.aggregates.waitlist import WaitlistSlot, WaitlistTicket
from bookit.errors import BadInput, shown

BOOKING, ENTRY, SLOT = "booking", "waitlist entry", "waitlist slot"
ALL_KINDS = (BOOKING, ENTRY, SLOT)
_KIND_OF: dict[type, str] = {Booking: BOOKING, WaitlistTicket: ENTRY, WaitlistSlot: SLOT}


@dataclass(frozen=True)
class Subject:
    kind: str
    id: UUID
    aggregate: Any  # the current Booking, WaitlistTicket or WaitlistSlot


def parse_id(text: str) -> UUID:
    try:
        return UUID(text)
    except (ValueError, AttributeError, TypeError):
        raise BadInput(
            f"{shown(text)} is not an id (ids look like 8-4-4-4-12 hex digits)", "bad_id"
        ) from None


def resolve(app: Any, text: str, kinds: tuple[str, ...] = ALL_KINDS) -> Subject:
    """The booking, entry or slot `text` names; BadInput if none, or not one of `kinds`."""
    ident = parse_id(text)
    wanted = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
    try:
        aggregate = app.repository.get(ident)
    except AggregateNotFoundError:
        raise BadInput(f"unknown {wanted}: {ident}", "unknown_id") from None
    kind = _KIND_OF.get(type(aggregate))
    if kind is None or kind not in kinds:
        what = kind or "record of another kind"
        raise BadInput(f"{ident} is a {what}, not a {wanted}", "wrong_kind")
    return Subject(kind, ident, aggregate)
