"""Follows the event store's notification log and keeps the read models up to date.

Works the same on SQLite (which cannot push notifications) and PostgreSQL: it polls from its
tracked position. Each batch is one transaction: the rows and the new position commit together.
A batch shorter than the batch size was the end of the log when it was read, so a pass that
gets one stops there instead of asking the store again.

Two processes may follow at once. PostgreSQL makes the second wait (the position is read FOR
UPDATE). SQLite ignores FOR UPDATE and takes its write lock only at the first insert, so the
second one can write rows the first has just committed: its duplicate key, like a failed
compare-and-set, means "someone else applied this batch", and it stands down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bookit.projections import audit, bookings, due_timers, rules, waitlist
from bookit.projections.batch import Batch
from bookit.projections.database import advance, position_of

Handler = Callable[[Batch, Any], None]


def _handlers_by_type() -> dict[type, list[Handler]]:
    by_type: dict[type, list[Handler]] = defaultdict(list)
    for module in (bookings, waitlist, due_timers, rules):
        for event_type, handler in module.HANDLERS.items():
            by_type[event_type].append(handler)
    return dict(by_type)


class Projector:
    """Applies every stored event exactly once to the read-model tables."""

    name = "read_models"

    def __init__(self, app: Application[Any], engine: Engine, batch_size: int = 500) -> None:
        self.app = app
        self.engine = engine
        self.batch_size = batch_size
        self.position = 0  # where the last pass left the tracked position, as far as it saw
        self._handlers = _handlers_by_type()

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything new; returns how many events were applied."""
        applied = 0
        while True:
            try:
                with self.engine.begin() as conn:
                    self.position = position = position_of(conn, self.name)
                    notifications = self.app.recorder.select_notifications(
                        start=position + 1, limit=self.batch_size
                    )
                    if not notifications:
                        return applied
                    events = ((n.id, self.app.mapper.to_domain_event(n)) for n in notifications)
                    self.apply_all(conn, events)
                    if not advance(conn, self.name, position, notifications[-1].id):
                        conn.rollback()  # another worker applied this batch first
                        return applied
            except IntegrityError:
                return applied  # another worker applied (some of) this batch first: rolled back
            self.position = notifications[-1].id
            applied += len(notifications)
            if progress is not None:
                progress(len(notifications))
            if len(notifications) < self.batch_size:
                return applied

    def apply_all(self, conn: Connection, events: Iterable[tuple[int, Any]]) -> None:
        batch = Batch(conn)
        for position, event in events:
            for handler in self._handlers.get(type(event), ()):
                handler(batch, event)
            audit.record(batch, event, position)
        batch.flush()
