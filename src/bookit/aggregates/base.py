"""What every BookIT aggregate shares: who caused each event, when, and stable topics.

Every event records the `actor` (who acted) and the `command_id` (which command, or which due
timer, caused it), and takes its timestamp from the command's `now`, never from the system
clock. That is what the audit trail of a disputed booking is made of.

Topics are explicit strings (e.g. "booking.confirmed"), so stored history survives moving or
renaming a class; they double as routing keys on the events exchange. The eventsourcing library
insists that every event class of an aggregate with a TOPIC has its own, including the base
"Created" class, which is why each aggregate declares a `Created` it never triggers directly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, cast
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

NAMESPACE = UUID("5f0c1d2e-8b7a-4c3d-9e1f-b00c1700b00c")

SYSTEM = "system"
"""The actor of everything the clock causes (reminders, auto-cancellations, expiries)."""


def derived_id(*parts: object) -> UUID:
    """A stable id from a key, so the same key always names the same aggregate or command."""
    return _named("/".join(str(part) for part in parts))


@functools.lru_cache(maxsize=4096)  # about 400 bytes each: 1.6 MB at most
def _named(key: str) -> UUID:
    # One event's id is asked for by the projector, the mailer and the relay, and a tick names
    # each reminder's booking, receipt and timer more than once: uuid5's SHA-1 is done once.
    return uuid5(NAMESPACE, key)


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """Events have no id of their own in the store; (aggregate, version) identifies one."""
    return derived_id("event", aggregate_id, version)


@dataclass(frozen=True)
class Cause:
    """Why something is happening: who asked, by which command, at which instant."""

    actor: str
    command_id: str
    at: datetime


class DomainAggregate(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        command_id: str

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _start(cls, event_class: type[Any], ident: UUID, cause: Cause, **fields: Any) -> Self:
        return cls._create(
            event_class,
            id=ident,
            actor=cause.actor,
            command_id=cause.command_id,
            timestamp=cause.at,
            **fields,
        )

    def _record(self, event_class: type[Any], cause: Cause, **fields: Any) -> None:
        self.trigger_event(
            event_class,
            actor=cause.actor,
            command_id=cause.command_id,
            timestamp=cause.at,
            **fields,
        )


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply stored events (a snapshot first, if any) in order: the library's projector without
    its assertion of each event against a runtime Protocol, which costs more on Python 3.11 than
    applying the event. Every stored event of ours is an `Aggregate.Event`."""
    for event in events:
        aggregate = cast(Aggregate.Event, event).mutate(aggregate)
    return aggregate
