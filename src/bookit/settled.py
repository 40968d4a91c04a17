"""The settled mark: how far a followers process (`bookit run --followers-only`) has got.

A followers process lets every follower catch up (read models, mailer) and runs the commands
they call for (a delivered reminder recorded on its booking), round after round until none has
anything left. At the start of every round (so after the commands the previous round called
for) its `SettledMarker` writes the lowest of their positions as the row `settled` of the
`positions` table. Every stored event at or before the mark has been projected, its emails
delivered and its follow-up commands run. Marking every round, not only once a settle is
quiet, lets a worker's held replies go while commands keep coming.

A command worker that leaves following to that process (`--commands-only`) reads the mark to
know when what a command caused is visible, and holds the command's reply until then, for at
most a bounded wait. A followers process that does not keep up (stopped, its mail server
failing) is waited for once: until the mark passes the point that wait gave up on, replies and
settles go on without waiting, so commands are not slowed to one per timeout.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import Engine, select, update

from bookit import commands as c
from bookit.projections.database import insert_or_ignore
from bookit.projections.tables import positions

log = logging.getLogger(__name__)

SETTLED = "settled"
POLL = 0.005  # seconds between looks at the mark while waiting

_READ = select(positions.c.position).where(positions.c.name == SETTLED)


def settled_position(engine: Engine) -> int:
    """The mark as it stands (0 before any followers process wrote it). A plain read: it never
    waits for the followers process's transactions."""
    with engine.connect() as conn:
        row = conn.execute(_READ).first()
    return 0 if row is None else int(row[0])


def mark_settled(engine: Engine, position: int) -> None:
    """Move the mark forward to `position` (never back: two followers processes may race)."""
    with engine.begin() as conn:
        conn.execute(insert_or_ignore(positions, conn.dialect.name), {"name": SETTLED, "position": 0})
        conn.execute(
            update(positions)
            .where(positions.c.name == SETTLED, positions.c.position < position)
            .values(position=position)
        )


class SettledMarker:
    """The first follower of a followers process's bus: at each round it marks how far all the
    others have got."""

    name = SETTLED

    def __init__(self, engine: Engine, others: list[Any]) -> None:
        self.engine = engine
        self.others = others
        self.settled = settled_position(engine)  # as this process last wrote or read it

    @property
    def position(self) -> int:
        return min(follower.position for follower in self.others)

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        self.mark()
        return 0, []

    def mark(self) -> bool:
        """Move the mark to where the others are; whether it moved. It stays while the mailer
        holds back after failures: those emails are not delivered."""
        reached = self.position
        if reached <= self.settled:
            return False
        mark_settled(self.engine, reached)
        self.settled = reached
        return True


class SettledMark:
    """A command worker's view of the mark, with the bounded wait and its give-up rule."""

    def __init__(self, engine: Engine, wait: float) -> None:
        self.engine = engine
        self.wait = wait  # seconds; 0: never wait
        self.position = 0  # as last read
        self._gave_up_on: int | None = None  # a target the last bounded wait did not see passed

    def read(self) -> int:
        self.position = settled_position(self.engine)
        if self._gave_up_on is not None and self.position >= self._gave_up_on:
            log.info("the followers caught up (settled at %d): replies wait for them again", self.position)
            self._gave_up_on = None
        return self.position

    @property
    def waiting_for_followers(self) -> bool:
        """False while a wait has given up on the followers and they have not caught up since."""
        return self.wait > 0 and self._gave_up_on is None

    def passed(self, target: int) -> bool:
        """Whether what the events up to `target` caused is visible, read once."""
        return self.position >= target or self.read() >= target

    def give_up(self, target: int) -> None:
        if self._gave_up_on is None:
            log.warning(
                "the followers have not passed event %d within %.1fs (settled at %d): replying "
                "without waiting for them until they catch up",
                target,
                self.wait,
                self.position,
            )
        self._gave_up_on = max(target, self._gave_up_on or 0)

    def wait_for(self, target: int) -> bool:
        """Wait, at most `wait` seconds, until the mark passes `target`; whether it did."""
        if self.passed(target):
            return True
        if not self.waiting_for_followers:
            return False
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            time.sleep(POLL)
            if self.passed(target):
                return True
        self.give_up(target)
        return False


class FollowedElsewhere:
    """The message bus's one follower in a worker that leaves following to a followers process:
    catching up is waiting (bounded) for that process's mark to pass the last stored event."""

    name = SETTLED

    def __init__(self, app: Application[Any], mark: SettledMark) -> None:
        self.app = app
        self.mark = mark

    @property
    def position(self) -> int:
        return self.mark.read()

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        before = self.mark.position
        self.mark.wait_for(self.app.recorder.max_notification_id() or 0)
        return self.mark.position - before, []
