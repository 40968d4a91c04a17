"""The local message bus: run a command, then let every follower catch up until quiet.

In local mode a command returns only when everything it caused has happened: its events are in
the store, the read models show them, the emails they owe are delivered, and what those led to
(a delivered reminder is recorded on its booking) has run too.

The bus knows its followers only by the `Follower` protocol and the clock's tick only as a
`Ticker`: `bootstrap.py` builds both and hands them over. One bus serves a whole process: its
commands run one at a time, so two threads (the link pages and the bus worker) never settle the
same event (and send its email) at once.

What the followers call for (a delivered reminder recorded on its booking) and what a tick finds
due are system commands: each round's are run as one group, stored in one atomic save
(`unit_of_work.py`), instead of one save each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from bookit import commands as c
from bookit.application import BookIT, Outcome
from bookit.errors import BookitError
from bookit.observability import observe
from bookit.unit_of_work import Result

Clock = Callable[[], datetime]


class Follower(Protocol):
    """Follows the event store from a tracked position and does what the new events ask."""

    @property
    def position(self) -> int:
        """The last event it has passed, as far as it saw."""

    def catch_up(self, now: datetime) -> tuple[int, list[c.Command]]:
        """Handle everything new; returns (events passed, the commands they call for)."""


class Ticker(Protocol):
    def tick(self, bus: MessageBus, now: datetime) -> Outcome:
        """Handle everything due at or before `now`, through `bus`."""


class MessageBus:
    def __init__(self, app: BookIT, followers: Sequence[Follower], ticker: Ticker, clock: Clock) -> None:
        self.app = app
        self.followers = list(followers)
        self.ticker = ticker
        self.clock = clock
        self._turn = threading.RLock()

    def handle(self, command: c.Command) -> Outcome:
        with self._turn, observe.command(command):
            if isinstance(command, c.Tick):
                return self.ticker.tick(self, command.now)
            now = self.clock()
            outcome = self.app.handle(command, now)
            self.settle(now)
            return outcome

    def run(self, command: c.Command, now: datetime, unseen: bool = False) -> Outcome:
        """Run one command at `now` without settling (the ticker settles once for many).
        `unseen`: see `ApplicationBase.handle`."""
        with self._turn, observe.command(command):
            return self.app.handle(command, now, unseen=unseen)

    def run_all(self, commands: Sequence[c.Command], now: datetime) -> list[Result]:
        """Run system commands at `now` as one group, without settling: each one's outcome or
        the error that turned it down."""
        with self._turn:
            return self._grouped(commands, now)

    def _grouped(self, commands: Sequence[c.Command], now: datetime) -> list[Result]:
        started = time.perf_counter()
        results = self.app.handle_all(commands, now)
        observe.group(commands, results, time.perf_counter() - started)
        return results

    def settle(self, now: datetime) -> None:
        """Let every follower catch up, and run what they call for, until none has anything left."""
        with self._turn:
            for _round in range(1000):
                moved = 0
                follow_ups: list[c.Command] = []
                for follower in self.followers:
                    with observe.following(follower):
                        passed, commands = follower.catch_up(now)
                    moved += passed
                    follow_ups += commands
                if follow_ups:
                    errors = [r for r in self._grouped(follow_ups, now) if isinstance(r, BookitError)]
                    if errors:
                        raise errors[0]  # the others' effects are stored
                if not follow_ups and (not moved or self._caught_up()):
                    return

    def _caught_up(self) -> bool:
        """True when every follower has passed the last stored event: another round would
        find nothing. One query on the store instead of a round of every follower."""
        last = self.app.recorder.max_notification_id() or 0
        return all(follower.position >= last for follower in self.followers)
