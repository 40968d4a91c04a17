"""Venue rules and check-in over HTTP (DESIGN rules 12-14): the same SetVenueRules and CheckIn
commands as the CLI and the bus, so every rule and refusal is the same everywhere (rule 17)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from bookit import commands as c
from bookit.entrypoints.api.deps import ALWAYS, WITH_BODY, CallerDep, IdempotencyKey
from bookit.entrypoints.api.problems import documented
from bookit.errors import NotFound
from bookit.projections import queries

router = APIRouter(tags=["venue rules"])


class RulesChange(BaseModel):
    """The rules to change; a field left out keeps its value, `null` restores its default.
    Values are checked by the same command the CLI and the bus send (`SetVenueRules`)."""

    model_config = ConfigDict(extra="forbid")

    buffer_minutes: int | None = None
    min_notice_minutes: int | None = None
    max_advance_days: int | None = None
    min_duration_minutes: int | None = None
    max_duration_minutes: int | None = None
    quota_bookings: list[str] | str | None = None
    quota_hours: list[str] | str | None = None
    check_in_minutes: int | None = None
    late_cancel_minutes: int | None = None
    no_show_strikes: int | None = None
    strike_days: int | None = None
    offer_window: int | str | None = None
    quiet_hours: str | None = None
    offer_mode: str | None = None


class RulesInForce(BaseModel):
    venue_id: str
    rules: dict[str, Any]
    changed: list[str] | None = None


class CheckedIn(BaseModel):
    booking_id: str
    checked_in: bool


@router.put("/api/venues/{venue_id}/rules", responses=WITH_BODY | documented(403, 404))
def set_rules(
    venue_id: str, body: RulesChange, caller: CallerDep, key: IdempotencyKey = None
) -> RulesInForce:
    """Set some of a venue's rules (admins only); answers with the rules now in force."""
    changes = body.model_dump(exclude_unset=True)
    outcome = caller.door.run(c.SetVenueRules, caller.actor, "venue.rules", key, venue_id=venue_id, **changes)
    return RulesInForce(venue_id=venue_id, rules=outcome["rules"], changed=outcome["changed"])


@router.get("/api/venues/{venue_id}/rules", responses=ALWAYS | documented(404))
def rules_in_force(venue_id: str, caller: CallerDep) -> RulesInForce:
    row = queries.rules_of(caller.door.service.engine, venue_id)
    if row is None:
        raise NotFound("venue", venue_id)
    return RulesInForce(venue_id=venue_id, rules=row["rules"])


@router.post("/api/bookings/{booking_id}/check-in", responses=WITH_BODY | documented(403, 404, 409))
def check_in(booking_id: UUID, caller: CallerDep, key: IdempotencyKey = None) -> CheckedIn:
    """Check in to your booking, from its start until the venue's check-in minutes after it;
    409 `check_in_not_open` / `check_in_closed` outside that, `no_check_in` where none is needed."""
    outcome = caller.door.run(c.CheckIn, caller.actor, "booking.check_in", key, booking_id=booking_id)
    return CheckedIn(booking_id=outcome["booking_id"], checked_in=outcome["checked_in"])
