"""Keeps the read models up to date: every stored event applied exactly once to the tables.

Works the same on SQLite (which cannot push notifications) and PostgreSQL: it follows the log
from its tracked position (`following.py`), one transaction per batch, the rows and the new
position committed together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine

from bookit import commands as c
from bookit.projections import audit, bookings, due_timers, rules, waitlist
from bookit.projections.batch import Batch, KnownTimers, Pending
from bookit.projections.following import Applied, TrackedFollower

Handler = Callable[[Batch, Any], None]


def handlers_by_type() -> dict[type, list[Handler]]:
    by_type: dict[type, list[Handler]] = defaultdict(list)
    for module in (bookings, waitlist, due_timers, rules):
        for event_type, handler in module.HANDLERS.items():
            by_type[event_type].append(handler)
    return dict(by_type)


class Projector(TrackedFollower):
    """Applies every stored event exactly once to the read-model tables."""

    name = "read_models"

    def __init__(
        self, app: Application[Any], engine: Engine, batch_size: int = 500, *, from_empty: bool = False
    ) -> None:
        """`from_empty`: the tables were emptied for this projector alone (a rebuild), so it can
        know every due timer there is and skip the deletes that would find none."""
        super().__init__(app, engine, batch_size)
        self._handlers = handlers_by_type()
        self._known_timers = KnownTimers() if from_empty else None

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything new; returns how many events were applied."""
        return self.follow(self._apply_page, progress)

    def apply_all(self, conn: Connection, events: Iterable[tuple[int, Any]]) -> None:
        batch = Batch(conn, self._known_timers)
        gather(batch, self._handlers, events)
        batch.flush()

    def apply_pending(self, conn: Connection, pending: Pending) -> None:
        """Write what another process gathered from the next events (the child process of a replay)."""
        Batch.resumed(conn, self._known_timers, pending).flush()

    def _apply_page(self, conn: Connection, notifications: Sequence[Notification]) -> Applied:
        self.apply_all(conn, ((n.id, self.app.mapper.to_domain_event(n)) for n in notifications))
        return Applied(len(notifications))


def gather(batch: Batch, handlers: dict[type, list[Handler]], events: Iterable[tuple[int, Any]]) -> None:
    """Let every handler of each event, and the audit trail, record what it changes in `batch`."""
    for position, event in events:
        for handler in handlers.get(type(event), ()):
            handler(batch, event)
        audit.record(batch, event, position)


class ReadModels:
    """The projector as one of the message bus's followers: it causes no further commands."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.name = projector.name

    @property
    def position(self) -> int:
        return self.projector.position

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        return self.projector.catch_up(), []
