"""Yesterday's events read for ever (DESIGN rule 20): the event types BookIT stores, their shapes'
versions, and the old names stored history may still use.

A stored event is never edited. When an event's fields change, its class gets a higher
`class_version` and a `upcast_vN_vN+1` static method that turns the stored state of version N
into version N+1 (eventsourcing's mapper runs them in turn on every read); when its meaning
changes, it is a new event type with a new topic. docs/evolution.md has the rules, and
tests/golden/ a stored example of every shape, taken from a real store, which the tests read.

`EVENT_SCHEMA_VERSION` names the whole set of shapes a release writes: it goes up by one
whenever an event type is added or a `class_version` goes up (tests/golden/schema-vN.txt lists
the shapes of version N; a test holds this module to it). `bookit --version` prints it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import register_topic

from bookit import aggregates
from bookit.aggregates.base import DomainAggregate

EVENT_SCHEMA_VERSION = 2

# Topics stored by earlier code for classes since renamed or moved: old topic -> "module:Class".
# Every BookIT event and aggregate has an explicit topic ("booking.booked", "bookit.Booking"),
# so moving a class between modules needs nothing here; only a class whose explicit topic itself
# is changed (never needed: keep the topic) or one of eventsourcing's own would.
OLD_TOPICS: dict[str, str] = {}


@functools.cache
def aggregate_classes() -> tuple[type[DomainAggregate], ...]:
    """Every aggregate class BookIT stores, from the modules of `bookit.aggregates`."""
    for module in pkgutil.iter_modules(aggregates.__path__):
        importlib.import_module(f"{aggregates.__name__}.{module.name}")
    found: list[type[DomainAggregate]] = []
    todo = list(DomainAggregate.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "TOPIC" in cls.__dict__:
            found.append(cls)
    return tuple(sorted(found, key=topic_of))


def topic_of(cls: type[Any]) -> str:
    return str(cls.TOPIC)


def _is_event_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, CanMutateAggregate)


@functools.cache
def event_classes() -> dict[str, type[Any]]:
    """topic -> class, for every event type that is stored: each aggregate's event classes but
    the bases others extend (an aggregate's `Created`, which is never triggered itself)."""
    stored: dict[str, type[Any]] = {}
    for aggregate in aggregate_classes():
        events = [obj for name, obj in vars(aggregate).items() if name != "Event" and _is_event_class(obj)]
        for event in events:
            if not any(other is not event and issubclass(other, event) for other in events):
                stored[topic_of(event)] = event
    return dict(sorted(stored.items()))


def class_version(cls: type[Any]) -> int:
    return int(getattr(cls, "class_version", 1))


def shapes() -> dict[str, int]:
    """Each stored event type's topic and the version of its shape written today."""
    return {topic: class_version(cls) for topic, cls in event_classes().items()}


def snapshotted() -> dict[str, type[Any]]:
    """topic -> class, for every aggregate the application keeps snapshots of."""
    from bookit.application_base import ApplicationBase

    return {topic_of(cls): cls for cls in sorted(ApplicationBase.snapshotting_intervals, key=topic_of)}


def schema_lines() -> list[str]:
    """The shapes written today, one a line, as tests/golden/schema-vN.txt lists them."""
    lines = [f"event {topic} v{version}" for topic, version in shapes().items()]
    lines += [f"snapshot {topic} v{class_version(cls)}" for topic, cls in snapshotted().items()]
    return lines


def register_old_topics() -> None:
    """Let topics stored by earlier code resolve to today's classes (idempotent)."""
    from eventsourcing.utils import resolve_topic

    for old, new in OLD_TOPICS.items():
        register_topic(old, resolve_topic(new))
