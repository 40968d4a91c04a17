"""A venue: a name and the IANA zone its wall clock runs in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id


class Venue(DomainAggregate):
    TOPIC = "bookit.Venue"

    class Created(DomainAggregate.Created):
        TOPIC = "venue.created"

    class Registered(Created):
        TOPIC = "venue.registered"
        venue_id: str
        name: str
        tz: str

    def __init__(self, venue_id: str, name: str, tz: str, **_: Any) -> None:
        self.venue_id = venue_id
        self.name = name
        self.tz = tz

    @staticmethod
    def id_for(venue_id: str) -> UUID:
        return derived_id("venue", venue_id)

    @classmethod
    def register(cls, venue_id: str, name: str, tz: str, cause: Cause) -> Venue:
        return cls._start(cls.Registered, cls.id_for(venue_id), cause, venue_id=venue_id, name=name, tz=tz)
