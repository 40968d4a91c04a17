"""Read queries over the projections. Plain SQL through SQLAlchemy Core; no aggregates here.

The few names a query takes from the domain (statuses, a venue's id) are imported inside that
query: the aggregates bring eventsourcing with them, and a read such as `bookit venue list`
should start without either (tests/e2e/test_cli_startup.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, func, or_, select

from bookit.localtime import from_iso, iso
from bookit.projections.tables import (
    admins,
    audit,
    backoffs,
    bookings,
    due_timers,
    emails_refused,
    emails_sent,
    strikes,
    venue_rules,
    venues,
    waitlist_entries,
)


def _rows(engine: Engine, query: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def due(engine: Engine, now: datetime, limit: int = 1000) -> list[Row[Any]]:
    """Timers due at or before now, oldest first: read through the index on due_at."""
    query = (
        select(due_timers)
        .where(due_timers.c.due_at <= iso(now))
        .order_by(due_timers.c.due_at, due_timers.c.timer_key)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


def venue_list(engine: Engine) -> list[dict[str, Any]]:
    return _rows(engine, select(venues).order_by(venues.c.venue_id))


def venue(engine: Engine, venue_id: str) -> dict[str, Any] | None:
    rows = _rows(engine, select(venues).where(venues.c.venue_id == venue_id))
    return rows[0] if rows else None


def availability(engine: Engine, venue_id: str, date: str) -> list[dict[str, str]]:
    """A venue's local day, 00:00 to 24:00, as free / booked / held intervals in local time.

    Booked: a live booking (booked or confirmed). Held: the slot of an open waitlist offer (the
    venue-day holds it for the queue until the offer is claimed, declined or expires)."""
    from bookit.aggregates.booking import LIVE
    from bookit.aggregates.waitlist import OFFERED

    live = select(bookings.c.start, bookings.c.end).where(
        bookings.c.venue_id == venue_id,
        bookings.c.date == date,
        bookings.c.status.in_(LIVE),
    )
    offered = select(waitlist_entries.c.start, waitlist_entries.c.end).where(
        waitlist_entries.c.venue_id == venue_id,
        waitlist_entries.c.date == date,
        waitlist_entries.c.status == OFFERED,
    )
    taken = [(r["start"], r["end"], "booked") for r in _rows(engine, live)]
    taken += [(r["start"], r["end"], "held") for r in _rows(engine, offered)]
    out: list[dict[str, str]] = []
    cursor = "00:00"
    for start, end, state in sorted(taken):
        if start > cursor:
            out.append({"start": cursor, "end": start, "state": "free"})
        out.append({"start": start, "end": end, "state": state})
        cursor = max(cursor, end)
    if cursor < "24:00":
        out.append({"start": cursor, "end": "24:00", "state": "free"})
    return out


def rules_of(engine: Engine, venue_id: str) -> dict[str, Any] | None:
    """The rules in force at a venue (rules, set_at, set_by), or None for an unknown venue."""
    rows = _rows(engine, select(venue_rules).where(venue_rules.c.venue_id == venue_id))
    if not rows:
        return None
    row = rows[0]
    row["rules"] = json.loads(row["rules"])
    return row


def admin_list(engine: Engine) -> list[str]:
    return [row["email"] for row in _rows(engine, select(admins).order_by(admins.c.email))]


def booking_list(
    engine: Engine,
    user: str | None = None,
    venue_id: str | None = None,
    date: str | None = None,
    *,
    after: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Bookings in (start, id) order; a page of them with `after` (the last row's
    `booking_key`, exclusive) and `limit`."""
    query = select(bookings)
    if after is not None:
        starts_at, booking_id = after
        query = query.where(
            or_(
                bookings.c.starts_at > starts_at,
                and_(bookings.c.starts_at == starts_at, bookings.c.booking_id > booking_id),
            )
        )
    if user:
        query = query.where(bookings.c.user == user.lower())
    if venue_id:
        query = query.where(bookings.c.venue_id == venue_id)
    if date:
        query = query.where(bookings.c.date == date)
    query = query.order_by(bookings.c.starts_at, bookings.c.booking_id)
    return _rows(engine, query if limit is None else query.limit(limit))


def booking_key(row: dict[str, Any]) -> tuple[str, str]:
    """Where a booking sorts in `booking_list`: its cursor."""
    return row["starts_at"], row["booking_id"]


def booking(engine: Engine, booking_id: str) -> dict[str, Any] | None:
    rows = _rows(engine, select(bookings).where(bookings.c.booking_id == booking_id))
    return rows[0] if rows else None


def my_waitlist(engine: Engine, user: str, now: datetime) -> list[dict[str, Any]]:
    """A user's active entries with their place in line and, when offered, seconds left."""
    from bookit.aggregates.waitlist import ACTIVE, OFFERED, WAITING

    mine = waitlist_entries
    other = waitlist_entries.alias()
    ahead = (
        select(func.count())
        .where(
            other.c.slot_id == mine.c.slot_id,
            other.c.status == WAITING,
            or_(
                other.c.priority < mine.c.priority,
                and_(other.c.priority == mine.c.priority, other.c.seq < mine.c.seq),
            ),
        )
        .scalar_subquery()
    )
    query = (
        select(mine, ahead.label("ahead"))
        .where(mine.c.user == user.lower(), mine.c.status.in_(ACTIVE))
        .order_by(mine.c.date, mine.c.start, mine.c.entry_id)
    )
    out = []
    for row in _rows(engine, query):
        ahead_count = row.pop("ahead")
        if row["status"] == OFFERED:
            row["position"] = 0
            row["seconds_left"] = max(0, int((from_iso(row["offered_until"]) - now).total_seconds()))
        else:
            row["position"] = ahead_count + 1
        out.append(row)
    return out


def waitlist_entry(engine: Engine, entry_id: str) -> dict[str, Any] | None:
    rows = _rows(engine, select(waitlist_entries).where(waitlist_entries.c.entry_id == entry_id))
    return rows[0] if rows else None


def history(engine: Engine, booking_id: str) -> list[dict[str, Any]]:
    """Every event that concerns a booking, in store order."""
    query = select(audit).where(or_(audit.c.booking_id == booking_id)).order_by(audit.c.position)
    rows = _rows(engine, query)
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def entry_history(engine: Engine, entry_id: str) -> list[dict[str, Any]]:
    """Every event that concerns a waitlist entry, in store order."""
    rows = _rows(engine, select(audit).where(audit.c.entry_id == entry_id).order_by(audit.c.position))
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def venue_history(engine: Engine, venue_id: str) -> list[dict[str, Any]]:
    """Every event of a venue (registered, rules set), in store order."""
    from bookit.aggregates.venue import Venue

    query = (
        select(audit).where(audit.c.aggregate_id == str(Venue.id_for(venue_id))).order_by(audit.c.position)
    )
    rows = _rows(engine, query)
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def strikes_of(engine: Engine, user: str, now: datetime, venue_id: str | None = None) -> list[dict[str, Any]]:
    """A user's strikes, oldest first, each with whether it still counts under the venue's rules
    in force now, and until when that venue suspends the user (None: it does not)."""
    from bookit.aggregates.strikes import suspension_end

    query = select(strikes).where(strikes.c.user == user.lower())
    if venue_id:
        query = query.where(strikes.c.venue_id == venue_id)
    rows = _rows(engine, query.order_by(strikes.c.at, strikes.c.booking_id))
    by_venue: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_venue.setdefault(row["venue_id"], []).append(row)
    for venue, its in by_venue.items():
        found = rules_of(engine, venue)
        rules = found["rules"] if found else {}
        days = int(rules.get("strike_days") or 30)
        since = now - timedelta(days=days)
        counting = [from_iso(r["at"]) for r in its if r["status"] == "active" and from_iso(r["at"]) > since]
        until = iso(suspension_end(counting, rules.get("no_show_strikes"), days))
        for row in its:
            row["counts"] = row["status"] == "active" and from_iso(row["at"]) > since
            row["suspended_until"] = until
    return rows


def outbox(engine: Engine, to: str | None = None, refused: bool = False) -> list[dict[str, Any]]:
    """Emails sent, oldest first; with `refused`, the ones a mail server refused for good."""
    table = emails_refused if refused else emails_sent
    query = select(table)
    if to:
        query = query.where(table.c.recipient == to.lower())
    return _rows(engine, query.order_by(table.c.position, table.c.message_id))


def backoff_of(engine: Engine, follower: str) -> dict[str, Any] | None:
    """Why and until when a follower leaves its server alone after failures; None if it does not."""
    rows = _rows(engine, select(backoffs).where(backoffs.c.name == follower))
    return rows[0] if rows else None
