"""`bookit show ID`: a booking's or a waitlist entry's state now, from the read models.

`as_of.py` gives the same shape for any past instant, from the event store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bookit.audit import records
from bookit.audit.as_of import entry_state
from bookit.audit.resolve import BOOKING, ENTRY, resolve
from bookit.errors import BadInput
from bookit.projections import queries


def show_now(service: Any, text: str, now: datetime) -> dict[str, Any]:
    subject = resolve(service.app, text, (BOOKING, ENTRY))
    if subject.kind == BOOKING:
        row = queries.booking(service.engine, str(subject.id))
        if row is None:
            raise BadInput(f"unknown booking: {subject.id}", "unknown_booking")
        return row
    found = records.entry_now(service.engine, str(subject.id))
    if found is None:
        raise BadInput(f"unknown waitlist entry: {subject.id}", "unknown_waitlist_entry")
    return entry_state(*found, now)
