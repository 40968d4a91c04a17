"""RULE=VALUE, as `bookit whatif` takes them: a change to the service's configuration
(`config.Rules`) or to every venue's rules (`VenueRules`, set by `SetVenueRules` in the scratch
store, so the offer is still judged by the rules in force: rule 12)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.aggregates.venue_rules import RULE_FIELDS
from bookit.config import Rules
from bookit.errors import BadInput, shown

# Configuration a change may name, in minutes unless said otherwise.
CONFIG_MINUTES = {
    "reminder_lead_minutes": "reminder_lead",
    "cancel_lead_minutes": "cancel_lead",
    "reminder_grace_minutes": "reminder_grace",
    "offer_min_usable_minutes": "offer_min_usable",
    "offer_min_window_minutes": "offer_min_window",
}
CONFIG_COUNTS = {"waitlist_limit_per_day": "waitlist_limit_per_day"}
# Venue rules by their SetVenueRules names (quotas as quota_bookings / quota_hours).
VENUE_RULES = tuple(name for name in RULE_FIELDS if name != "quotas") + ("quota_bookings", "quota_hours")


@dataclass(frozen=True)
class Changes:
    config: dict[str, Any] = field(default_factory=dict)
    venue: dict[str, Any] = field(default_factory=dict)
    text: tuple[str, ...] = ()

    def rules(self, base: Rules) -> Rules:
        return replace(base, **self.config)

    def venue_command(self, venue_id: str, command_id: Any) -> c.Command | None:
        """The SetVenueRules that puts the venue changes in force at a venue, if any."""
        if not self.venue:
            return None
        return c.build(c.SetVenueRules, command_id=command_id, actor=SYSTEM, venue_id=venue_id, **self.venue)

    def __str__(self) -> str:
        return " ".join(self.text) or "(no change)"


def parse_changes(pairs: tuple[str, ...] | list[str]) -> Changes:
    config: dict[str, Any] = {}
    venue: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip().lower().replace("-", "_"), value.strip()
        if not sep or not name:
            raise BadInput(f"{shown(pair)} is not RULE=VALUE", "bad_rule")
        if name in CONFIG_MINUTES:
            config[CONFIG_MINUTES[name]] = timedelta(minutes=_number(name, value))
        elif name in CONFIG_COUNTS:
            config[CONFIG_COUNTS[name]] = int(_number(name, value))
        elif name in VENUE_RULES:
            venue[name] = _venue_value(name, value)
        else:
            known = ", ".join(sorted([*CONFIG_MINUTES, *CONFIG_COUNTS, *VENUE_RULES]))
            raise BadInput(f"unknown rule {shown(name)}; known: {known}", "bad_rule")
    if venue:  # checked now, as the scratch store would check it, so a typo stops before the run
        c.build(c.SetVenueRules, actor=SYSTEM, venue_id="check", **venue)
    return Changes(config, venue, tuple(pairs))


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadInput(f"{name}={shown(value)}: expected a number", "bad_rule") from None
    if number < 0:
        raise BadInput(f"{name}={shown(value)}: must not be negative", "bad_rule")
    return number


def _venue_value(name: str, value: str) -> Any:
    if value.lower() in ("none", "default", ""):
        return None
    if name.startswith("quota_"):
        return [part for part in value.split(",") if part]
    return value
