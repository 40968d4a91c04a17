"""A venue: a name, the IANA zone its wall clock runs in, and its rules (DESIGN rule 12)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit.aggregates.base import SYSTEM, Cause, DomainAggregate, derived_id
from bookit.aggregates.venue_rules import VenueRules
from bookit.errors import Refused


class Venue(DomainAggregate):
    TOPIC = "bookit.Venue"

    class Created(DomainAggregate.Created):
        TOPIC = "venue.created"

    class Registered(Created):
        TOPIC = "venue.registered"
        venue_id: str
        name: str
        tz: str

    class RulesSet(DomainAggregate.Event):
        """An admin set the venue's rules: `rules` is the whole new value, `changed` what moved."""

        TOPIC = "venue.rules_set"
        venue_id: str
        rules: dict[str, Any]
        changed: list[str]

        def apply(self, venue: Venue) -> None:
            venue.rules = VenueRules.from_dict(self.rules)

    def __init__(self, venue_id: str, name: str, tz: str, **_: Any) -> None:
        self.venue_id = venue_id
        self.name = name
        self.tz = tz
        self.rules = VenueRules()

    @staticmethod
    def id_for(venue_id: str) -> UUID:
        return derived_id("venue", venue_id)

    @classmethod
    def register(
        cls, venue_id: str, name: str, tz: str, cause: Cause, *, actor_is_admin: bool = False
    ) -> Venue:
        """Only an admin registers a venue; the local operator (`system`) registers the first."""
        if cause.actor != SYSTEM and not actor_is_admin:
            raise Refused("only an admin may register a venue", "not_admin")
        return cls._start(cls.Registered, cls.id_for(venue_id), cause, venue_id=venue_id, name=name, tz=tz)

    def set_rules(self, rules: VenueRules, cause: Cause, *, actor_is_admin: bool) -> list[str]:
        """Put `rules` in force from now on; returns the names of the fields that changed
        (none: nothing is recorded)."""
        if not actor_is_admin:
            raise Refused("only an admin may set a venue's rules", "not_admin")
        old, new = self.rules.as_dict(), rules.as_dict()
        changed = sorted(name for name in new if new[name] != old.get(name))
        if changed:
            self._record(self.RulesSet, cause, venue_id=self.venue_id, rules=new, changed=changed)
        return changed
