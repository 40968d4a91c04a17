"""The local message bus: run a command, then let every follower catch up until quiet.

In local mode a command returns only when everything it caused has happened: its events are in
the store, the read models show them, the emails they owe are delivered, and what those led to
(a delivered reminder is recorded on its booking) has run too. A tick handles every due timer,
then looks again, so a tick after an outage leaves nothing due behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bookit import commands as c
from bookit.application import BookIT, Outcome
from bookit.errors import BookitError
from bookit.localtime import iso
from bookit.policies.due_work import command_for
from bookit.policies.mail.mailer import Mailer
from bookit.projections import queries
from bookit.projections.projector import Projector

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class MessageBus:
    def __init__(self, app: BookIT, projector: Projector, mailer: Mailer | None, clock: Clock) -> None:
        self.app = app
        self.projector = projector
        self.mailer = mailer
        self.clock = clock

    def handle(self, command: c.Command) -> Outcome:
        if isinstance(command, c.Tick):
            return self.tick(command.now)
        now = self.clock()
        outcome = self.app.handle(command, now)
        self.settle(now)
        return outcome

    def settle(self, now: datetime) -> None:
        """Run projections and the mailer until neither has anything left to do."""
        for _round in range(1000):
            moved = self.projector.catch_up()
            follow_ups: list[c.Command] = []
            if self.mailer is not None:
                passed, follow_ups = self.mailer.catch_up(now)
                moved += passed
            for command in follow_ups:
                self.app.handle(command, now)
            if not follow_ups and (not moved or self._caught_up()):
                return

    def _caught_up(self) -> bool:
        """True when every follower has passed the last stored event: another round would
        find nothing. One query on the store instead of a round of both followers."""
        last = self.app.recorder.max_notification_id() or 0
        followers: list[Projector | Mailer] = [self.projector]
        if self.mailer is not None:
            followers.append(self.mailer)
        return all(follower.position >= last for follower in followers)

    def tick(self, now: datetime) -> Outcome:
        """Handle everything due at or before `now` that has not been handled."""
        self.settle(now)
        handled, skipped = 0, 0
        tried: set[str] = set()
        while True:
            timers = [t for t in queries.due(self.projector.engine, now) if t.command_id not in tried]
            if not timers:
                break
            for timer in timers:
                tried.add(timer.command_id)
                try:
                    outcome: dict[str, Any] = self.app.handle(command_for(timer), now)
                except BookitError as error:
                    log.warning("due %s for %s not handled: %s", timer.kind, timer.subject_id, error)
                    skipped += 1
                    continue
                handled += 0 if "skipped" in outcome else 1
                skipped += 1 if "skipped" in outcome else 0
            self.settle(now)
        return {"now": iso(now), "handled": handled, "skipped": skipped}
