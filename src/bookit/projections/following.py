"""The one loop every follower of the event store runs: projector, mailer and event relay.

A follower keeps its position in the read-model database (`positions`, by name). Each step is one
transaction: read the position (FOR UPDATE: on PostgreSQL a second worker waits instead of doing
the same work), page the notification log after it, let the follower apply a prefix of the page
(rows, records, deliveries, publishes), and move the position to the last event applied by
compare-and-set. A crash can neither skip an event nor apply one twice, and two workers following
at once cannot both apply the same step: the one that finds the position moved stands down.

SQLite ignores FOR UPDATE and takes its write lock only at the first write, so a second process
can write rows the first has just committed: its duplicate key, like a failed compare-and-set,
means "someone else applied this", and it stands down too.

A follower may take a page in several steps (the mailer commits once per email-owing event, so a
crash re-delivers at most one event's emails); the rest of the page is applied without reading
the log again. A page shorter than the batch size was the end of the log when it was read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bookit.projections.database import advance, position_of


@dataclass(frozen=True)
class Applied:
    """What one step did with the notifications it was given."""

    count: int  # how many of them (a prefix) were applied; the position moves past those
    stop: bool = False  # leave the rest for a later pass (a failure that must wait)


Step = Callable[[Connection, Sequence[Notification]], Applied]


class TrackedFollower:
    """A follower of the event store from a tracked position named `name`."""

    name = ""

    def __init__(self, app: Application[Any], engine: Engine, batch_size: int) -> None:
        self.app = app
        self.engine = engine
        self.batch_size = batch_size
        self.position = 0  # where the last pass left the tracked position, as far as it saw

    def follow(self, step: Step, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything new through `step`; returns how many events were applied."""
        applied = 0
        page: Sequence[Notification] = ()
        full = False
        done = Applied(0)

        def apply(conn: Connection, position: int) -> int:
            nonlocal page, full, done
            if not page:
                page = self.app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
                full = len(page) == self.batch_size
            done = step(conn, page) if page else Applied(0)
            return page[done.count - 1].id if done.count else position

        while True:
            # After the first step, the rest of the page is ours only while the position is
            # still where our last step left it.
            if not self._one_transaction(self.position if page else None, apply):
                return applied
            if done.count:
                applied += done.count
                if progress is not None:
                    progress(done.count)
            page = page[done.count :]
            if done.stop or not done.count or (not page and not full):
                return applied

    def step_to(self, last: int, step: Callable[[Connection], None]) -> bool:
        """One step on events read elsewhere, up to notification `last`: in one transaction,
        check the position is where this follower left it, run `step`, move the position to
        `last`. False, with nothing applied, if another worker moved it first."""

        def apply(conn: Connection, _position: int) -> int:
            step(conn)
            return last

        return self._one_transaction(self.position, apply)

    def _one_transaction(self, expected: int | None, apply: Callable[[Connection, int], int]) -> bool:
        """One step's transaction: the position read FOR UPDATE (and, if `expected` is given and
        the position is elsewhere, nothing done), `apply(conn, position)` giving the notification
        id to move to (the position itself when it applied nothing), then the compare-and-set.
        False if another worker moved the position or applied (some of) these first: rolled back."""
        try:
            with self.engine.begin() as conn:
                position = position_of(conn, self.name)
                if expected is not None and position != expected:
                    return False
                self.position = position
                last = apply(conn, position)
                if last != position and not advance(conn, self.name, position, last):
                    conn.rollback()
                    return False
        except IntegrityError:
            return False
        self.position = last
        return True
