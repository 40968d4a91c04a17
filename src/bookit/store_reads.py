"""Reads of many aggregates' events in one query, where the library asks once per aggregate.

A group of due commands (`unit_of_work.py`) reads its commands' receipts and bookings this way;
the mailer, the bookings as they were at a page's events, and the receipts of the reminders it
may still have to report. SQLite and
PostgreSQL get one query per few hundred ids; any other recorder (the in-memory one of unit
tests) is asked once per id, as the library would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

_CHUNK = 500  # ids per query (SQLite allows 32 766 parameters; any chunk is fine)
_COLUMNS = "originator_id, originator_version, topic, state"


def events_of(app: Application[Any], ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
    """The stored events of each of `ids` that has any, oldest first."""
    recorder: Any = app.recorder
    kind = type(recorder).__module__
    wanted = sorted(set(ids))
    found: dict[UUID, list[StoredEvent]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        if kind.startswith("eventsourcing.sqlite"):
            rows = _sqlite(recorder, chunk)
        elif kind.startswith("eventsourcing.postgres"):
            rows = _postgres(recorder, chunk)
        else:
            rows = [s for ident in chunk for s in recorder.select_events(ident)]
        for stored in rows:
            found.setdefault(UUID(str(stored.originator_id)), []).append(stored)
    return found


def stored_among(app: Application[Any], ids: Iterable[UUID]) -> set[UUID]:
    """Which of `ids` name something in the event store."""
    return set(events_of(app, ids))


def states_at(app: Application[Any], events: Iterable[Any]) -> dict[tuple[UUID, int], Any]:
    """Each event's aggregate as it was just after that event, keyed by (id, version): what
    `repository.get(id, version=...)` gives, for all of them from one query. For aggregates
    without snapshots (the query reads every event of each)."""
    wanted = list(events)
    stored = events_of(app, {event.originator_id for event in wanted})
    states: dict[tuple[UUID, int], Any] = {}
    for event in wanted:
        aggregate: Any = None
        for record in stored.get(event.originator_id, []):
            if record.originator_version > event.originator_version:
                break
            aggregate = app.mapper.to_domain_event(record).mutate(aggregate)  # type: ignore[attr-defined]
        if aggregate is not None and aggregate.version == event.originator_version:
            states[event.originator_id, event.originator_version] = aggregate
    return states


def _sqlite(recorder: Any, chunk: list[UUID]) -> list[StoredEvent]:
    marks = ",".join("?" * len(chunk))
    statement = (
        f"SELECT {_COLUMNS} FROM {recorder.events_table_name} "
        f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [ident.hex for ident in chunk])
        return [StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in cursor.fetchall()]


def _postgres(recorder: Any, chunk: list[UUID]) -> list[StoredEvent]:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT " + _COLUMNS + " FROM {}.{} WHERE originator_id = ANY(%s) "
        "ORDER BY originator_id, originator_version"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    as_text = recorder.datastore.originator_id_type == "text"
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [[str(i) for i in chunk] if as_text else chunk])
        return [
            StoredEvent(row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"]))
            for row in cursor.fetchall()
        ]
