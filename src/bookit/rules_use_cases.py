"""Use cases of the venue rules (DESIGN rules 12-14), beside the application service.

Each is a function of the application and one command: load, call, one atomic save, as in
`application.py`, which dispatches to them. They live apart so that neither file needs a table
of contents.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, Cause
from bookit.aggregates.venue_rules import Quota, VenueRules
from bookit.errors import BadInput

if TYPE_CHECKING:
    from bookit.application import BookIT, Outcome

_DEFAULTS = {f.name: getattr(VenueRules(), f.name) for f in fields(VenueRules)}


def set_venue_rules(app: BookIT, cmd: c.SetVenueRules, cause: Cause) -> Outcome:
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
