"""Read model: the audit trail. Every event in store order: what, when, by whom, and caused by
which command or due timer; indexed by the booking and waitlist entry it concerns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from bookit.aggregates.booking import Booking
from bookit.localtime import iso
from bookit.projections.batch import Batch

# The envelope has columns of its own, and so do actor and command_id.
_NOT_DATA = frozenset(
    ("originator_id", "originator_version", "timestamp", "originator_topic", "actor", "command_id")
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} in an event has no JSON form")


# What `json.dumps(event_data.fields_of(e), sort_keys=True)` gives, for events read back from the
# store (whose dict keys are all strings), without first copying every value: the encoder turns
# instants and ids into text as it meets them. This runs for every stored event.
_DATA = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_plain)
# `JSONEncoder.encode` makes a new C encoder for every call, which costs as much as the
# encoding of a few fields: this one is made once, with `_DATA`'s settings (event data holds
# no cycles to check for). Where the C encoder is missing, `_DATA` itself.
_make = getattr(json.encoder, "c_make_encoder", None)
_C_DATA = (
    None
    if _make is None
    else _make(None, _plain, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True)
)


def _encoded(data: dict[str, Any]) -> str:
    return _DATA.encode(data) if _C_DATA is None else "".join(_C_DATA(data, 0))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# Of each event class: its topic, and whether its aggregate is the booking it concerns.
_KINDS: dict[type, tuple[str, bool]] = {}


def _kind(event_type: type) -> tuple[str, bool]:
    kind = _KINDS.get(event_type)
    if kind is None:
        kind = _KINDS[event_type] = (get_topic(event_type), issubclass(event_type, Booking.Event))
    return kind


def record(batch: Batch, e: Any, position: int) -> None:
    """Add the audit row of event `e` to the batch."""
    batch.audit.rows.append(row(e, position))


def row(e: Any, position: int) -> tuple[Any, ...]:
    """The audit row of event `e`, in the table's column order (tables.audit)."""
    state = vars(e)
    topic, of_booking = _kind(type(e))
    data = state.copy()
    for name in _NOT_DATA:
        data.pop(name, None)
    return (
        position,
        str(e.originator_id),
        e.originator_version,
        topic,
        iso(e.timestamp),
        state["actor"],
        state["command_id"],
        _text(e.originator_id if of_booking else state.get("booking_id")),
        _text(state.get("entry_id") or state.get("waitlist_entry_id")),
        _encoded(data),
    )
