"""A stored event as plain JSON-ready data: for the audit trail and the events exchange."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from bookit.aggregates.base import event_id
from bookit.localtime import iso

# The trace context travels as a `traceparent` header beside the body (observability/tracing.py).
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic", "traceparent")


_AS_IS = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _AS_IS:  # most fields: checked first, as this runs for every stored event
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def fields_of(event: Any) -> dict[str, Any]:
    """The event's own fields (what happened), without the store's envelope."""
    return {k: _plain(v) for k, v in sorted(vars(event).items()) if k not in _ENVELOPE}


def payload(event: Any) -> dict[str, Any]:
    """Fields plus the envelope promised on the bus: event_id, aggregate_id, version, occurred_at;
    and `class_version`, the version of the shape these fields are in (DESIGN rule 20: an event
    stored in an older shape is read, upcast, and sent in today's)."""
    return fields_of(event) | {
        "event_id": str(event_id(event.originator_id, event.originator_version)),
        "aggregate_id": str(event.originator_id),
        "version": event.originator_version,
        "occurred_at": iso(event.timestamp),
        "type": topic_of(event),
        "class_version": getattr(type(event), "class_version", 1),
    }


def topic_of(event: Any) -> str:
    return get_topic(type(event))
