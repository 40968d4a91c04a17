"""Read model: the audit trail. Every event in store order: what, when, by whom, and caused by
which command or due timer; indexed by the booking and waitlist entry it concerns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from bookit.aggregates.booking import Booking
from bookit.event_data import topic_of
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


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def record(batch: Batch, e: Any, position: int) -> None:
    state = vars(e)
    booking_id = _text(e.originator_id if isinstance(e, Booking.Event) else state.get("booking_id"))
    batch.audit.insert(
        {
            "position": position,
            "aggregate_id": str(e.originator_id),
            "version": e.originator_version,
            "topic": topic_of(e),
            "at": iso(e.timestamp),
            "actor": state["actor"],
            "command_id": state["command_id"],
            "booking_id": booking_id,
            "entry_id": _text(state.get("entry_id") or state.get("waitlist_entry_id")),
            "data": _DATA.encode({k: v for k, v in state.items() if k not in _NOT_DATA}),
        }
    )
