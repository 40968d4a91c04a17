"""Read model: the audit trail. Every event in store order: what, when, by whom, and caused by
which command or due timer; indexed by the booking and waitlist entry it concerns."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert

from bookit.aggregates.booking import Booking
from bookit.event_data import fields_of, topic_of
from bookit.projections.tables import audit, iso


def record(conn: Connection, e: Any, position: int) -> None:
    data = fields_of(e)
    booking_id = str(e.originator_id) if isinstance(e, Booking.Event) else data.get("booking_id")
    entry_id = data.get("entry_id") or data.get("waitlist_entry_id")
    conn.execute(
        insert(audit).values(
            position=position,
            aggregate_id=str(e.originator_id),
            version=e.originator_version,
            topic=topic_of(e),
            at=iso(e.timestamp),
            actor=data.pop("actor"),
            command_id=data.pop("command_id"),
            booking_id=booking_id,
            entry_id=entry_id,
            data=json.dumps(data, sort_keys=True, separators=(",", ":")),
        )
    )
