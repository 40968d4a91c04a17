"""How the value objects held in aggregate state are written into snapshots.

Events carry only plain values, but a snapshot is the whole state of a long-lived aggregate (a
busy venue-day, a long queue), which holds small frozen dataclasses and sets. Each is registered
once with the store's JSON transcoder under a stable name.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from bookit.aggregates.strikes import Strike
from bookit.aggregates.venue_day import Hold, Interval, Taken
from bookit.aggregates.venue_rules import VenueRules
from bookit.aggregates.waitlist import Entry


class DataclassAsDict(Transcoding):
    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: Any) -> Any:
        return self.type(**data)


class VenueRulesAsDict(Transcoding):
    """Rules as events write them (quotas as plain dicts), so old snapshots load new fields."""

    type = VenueRules
    name = "venue_rules"

    def encode(self, obj: VenueRules) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: Any) -> VenueRules:
        return VenueRules.from_dict(data)


class SetAsSortedList(Transcoding):
    type = set
    name = "set"

    def encode(self, obj: set[Any]) -> list[Any]:
        return sorted(obj)

    def decode(self, data: Any) -> set[Any]:
        return set(data)


def register_value_objects(transcoder: JSONTranscoder) -> None:
    """The stored names of value objects, and (bookit.evolution) the old topics of moved classes:
    what every application that reads the store needs."""
    from bookit.evolution import register_old_topics

    register_old_topics()
    transcoder.register(SetAsSortedList())
    for cls, name in (
        (Interval, "interval"),
        (Taken, "taken"),
        (Hold, "hold"),
        (Entry, "waitlist_entry"),
        (Strike, "strike"),
    ):
        transcoder.register(DataclassAsDict(cls, name))
    transcoder.register(VenueRulesAsDict())
