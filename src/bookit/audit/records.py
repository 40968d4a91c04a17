"""What the audit package reads from the read models: audit rows and the emails record.

Plain SQL through SQLAlchemy Core, read-only. The audit trail (projections/audit.py) has one row
per stored event, at its notification position; every email sent or refused is recorded at the
position of the event that owed it, which is how the two are woven together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, or_, select

from bookit.projections.tables import audit, emails_refused, emails_sent, waitlist_entries


def _rows(engine: Engine, query: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def rows_of_aggregate(engine: Engine, aggregate_id: str) -> list[dict[str, Any]]:
    query = select(audit).where(audit.c.aggregate_id == aggregate_id).order_by(audit.c.position)
    return _rows(engine, query)


def rows_about(engine: Engine, *, entry_id: str, booking_id: str | None) -> list[dict[str, Any]]:
    """Every row that names the entry, is its ticket, or concerns the booking it became."""
    about = [audit.c.entry_id == entry_id, audit.c.aggregate_id == entry_id]
    if booking_id is not None:
        about.append(audit.c.booking_id == booking_id)
    return _rows(engine, select(audit).where(or_(*about)).order_by(audit.c.position))


def emails_at(
    engine: Engine, positions: Iterable[int], subjects: set[str] | None
) -> dict[int, list[dict[str, Any]]]:
    """Emails sent or refused for the events at `positions` (about one of `subjects`, if given)."""
    wanted = sorted(set(positions))
    found: dict[int, list[dict[str, Any]]] = {}
    if not wanted:
        return found
    with engine.connect() as conn:
        for table, outcome, when in (
            (emails_sent, "delivered", "sent_at"),
            (emails_refused, "refused", "refused_at"),
        ):
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in conn.execute(select(table).where(table.c.position.in_(chunk))):
                    email = dict(row._mapping)
                    if subjects is not None and email["subject_id"] not in subjects:
                        continue
                    found.setdefault(email["position"], []).append(
                        {
                            "kind": email["kind"],
                            "recipient": email["recipient"],
                            "message_id": email["message_id"],
                            "subject_id": email["subject_id"],
                            "outcome": outcome,
                            "at": email[when],
                            "error": email.get("error"),
                        }
                    )
    for emails in found.values():
        emails.sort(key=lambda e: (e["kind"], e["recipient"], e["message_id"]))
    return found


def entry_now(engine: Engine, entry_id: str) -> tuple[dict[str, Any], int | None] | None:
    """An entry's read-model row and its place in line now (0 offered, None out of the queue)."""
    with engine.connect() as conn:
        row = conn.execute(select(waitlist_entries).where(waitlist_entries.c.entry_id == entry_id)).first()
        if row is None:
            return None
        entry = dict(row._mapping)
        if entry["status"] not in ("waiting", "offered"):
            return entry, None
        if entry["status"] == "offered":
            return entry, 0
        others = conn.execute(
            select(waitlist_entries.c.priority, waitlist_entries.c.seq).where(
                waitlist_entries.c.slot_id == entry["slot_id"], waitlist_entries.c.status == "waiting"
            )
        ).all()
    ahead = sum(1 for p, s in others if (p, s) < (entry["priority"], entry["seq"]))
    return entry, ahead + 1
