"""Re-run recorded actions on a scratch store, under changed rules, with a fake clock.

The clock visits, in order, every instant something happens: each recorded action, each instant
the recorded service ticked, and each due instant of the scratch store's own timers (the
due-timers read model says which comes next) that no recorded tick serves within `tick_slack`
(how late the service may tick after a due instant). It jumps from one to the next; it never
ticks through idle minutes. With unchanged rules the scratch store's timers are history's own,
served at the same recorded ticks, so the baseline equals history; a changed rule moves only the
timers it changes, and those are served when they fall due.

A recorded action that the scratch store refuses (a claim of an offer that was never made there,
a confirmation of a booking that was auto-cancelled there) no longer applies: it is counted and
listed with its refusal, never dropped silently. No email leaves the scratch store: the outbox
only counts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

from sqlalchemy import func, select

from bookit import commands as c
from bookit.adapters.mail import Delivered
from bookit.adapters.mail.counting import CountingOutbox
from bookit.aggregates.base import derived_id
from bookit.bootstrap import Service, bootstrap
from bookit.config import Rules
from bookit.errors import BookitError
from bookit.localtime import from_iso
from bookit.policies.mail.mailer import Mailer
from bookit.policies.mail.owed import Email
from bookit.policies.mail.records import Record
from bookit.projections.tables import due_timers
from bookit.scratch import scratch_dir
from bookit.whatif.changes import Changes
from bookit.whatif.history import Action, History


@dataclass
class Replay:
    service: Service
    outbox: CountingOutbox
    scratch: Path
    no_longer_apply: list[tuple[Action, str]] = field(default_factory=list)
    ticks: int = 0
    actions: int = 0

    def close(self) -> None:
        self.service.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def replay(
    history: History,
    changes: Changes,
    base_rules: Rules,
    *,
    until: datetime | None = None,
    tick_slack: timedelta = timedelta(minutes=15),
    progress: Callable[[int], None] | None = None,
) -> Replay:
    """History's actions (up to `until`) on a fresh scratch store under `changes`."""
    actions = [a for a in history.actions if until is None or a.at < until]
    if not actions:
        raise BookitError("there are no recorded actions to replay", "nothing_recorded")
    scratch = scratch_dir("bookit-whatif-")
    clock = FakeClock(actions[0].at)
    outbox = CountingOutbox()
    rules = changes.rules(base_rules)
    service = bootstrap(scratch, clock=clock, rules=rules, outbox=outbox, mailer_class=CountingMailer)
    run = Replay(service, outbox, scratch)
    ticks = [t for t in history.ticks if until is None or t[0] < until]
    end = until or max(actions[-1].at, ticks[-1][0] if ticks else actions[-1].at)
    ticker = Ticker(run, clock, ticks, tick_slack)
    try:
        for action in actions:
            ticker.until(action.at, action.position)
            clock.now = max(clock.now, action.at)
            ticker.stuck_until = None
            _apply(run, action, changes)
            if progress is not None:
                progress(1)
        ticker.until(end)
        service.bus.settle(clock.now)
    except BaseException:
        run.close()
        raise
    return run


class Ticker:
    """Decides when the scratch service ticks next: a recorded tick instant, or a due instant of
    its own that no recorded tick serves within `slack`."""

    def __init__(
        self, run: Replay, clock: FakeClock, ticks: list[tuple[datetime, int]], slack: timedelta
    ) -> None:
        self.run, self.clock, self.slack = run, clock, slack
        self.recorded = ticks  # sorted; those already passed are dropped
        self.stuck_until: datetime | None = None  # a due timer a tick could not settle yet

    def until(self, limit: datetime, position: int | None = None) -> None:
        """Every tick before `limit`, and those recorded at `limit` before log `position` (all of
        them at `limit` when no position is given: the end of the replay)."""
        while True:
            at = self._next()
            if at is None or at > limit:
                return
            if at == limit and position is not None and not self._recorded_before(at, position):
                return
            self.clock.now = at
            self.run.service.bus.handle(c.Tick(command_id=derived_id("whatif-tick", at.isoformat()), now=at))
            self.run.ticks += 1
            while self.recorded and self.recorded[0][0] <= at:
                del self.recorded[0]
            due = _next_due(self.run.service)
            self.stuck_until = at if due is not None and due <= at else None

    def _recorded_before(self, at: datetime, position: int) -> bool:
        return bool(self.recorded) and self.recorded[0][0] == at and self.recorded[0][1] < position

    def _next(self) -> datetime | None:
        now = self.clock.now
        # Actions run without settling (nothing they do reads the read models); the timers
        # they made must be in the due-timers table before it is asked what comes next. Their
        # emails are settled by the next tick (none of them feeds back but reminders, which
        # only ticks make and settle at once).
        self.run.service.projector.catch_up()
        recorded = self.recorded[0][0] if self.recorded else None
        due = _next_due(self.run.service)
        if due is not None and self.stuck_until is not None and due <= self.stuck_until:
            due = None  # tried at this instant already: the next event or tick will move it
        if due is None:
            return recorded
        due = max(due, now)
        if recorded is not None and due <= recorded <= due + self.slack:
            return recorded  # history ticked then: the timer is served as it was
        return due if recorded is None else min(due, recorded)


def _next_due(service: Service) -> datetime | None:
    with service.engine.connect() as conn:
        first = conn.execute(select(func.min(due_timers.c.due_at))).scalar()
    return None if first is None else from_iso(first)


class CountingMailer(Mailer):
    """The mailer, owing and recording every email as usual, but handing the outbox a bare
    message per email (its kind and recipient) instead of composing it: nothing is sent, so
    nothing needs its words."""

    def _deliver(self, emails: list[Email], position: int, now: datetime) -> tuple[list[Record], Delivered]:
        messages = []
        for email in emails:
            bare = EmailMessage()
            bare["X-BookIT-Kind"], bare["To"] = email.kind, email.to
            messages.append(bare)
        delivered = self.outbox.deliver_all(messages)
        return [(email, position, None) for email in emails], delivered


def _apply(run: Replay, action: Action, changes: Changes) -> None:
    fields = dict(action.fields)
    for key in ("booking_id", "entry_id"):
        if key in fields:
            fields[key] = UUID(str(fields[key]))
    try:
        command = c.build(
            getattr(c, action.command), command_id=UUID(action.command_id), actor=action.actor, **fields
        )
        run.service.bus.run(command, action.at)
        run.actions += 1
    except BookitError as refusal:
        run.no_longer_apply.append((action, refusal.message))
        return
    if action.command in ("RegisterVenue", "SetVenueRules") and action.venue_id is not None:
        # The changed venue rules are in force at every venue from its start, and stay so
        # whatever rules the venue's history sets later.
        again = changes.venue_command(action.venue_id, derived_id("whatif-rules", action.command_id))
        if again is not None:
            run.service.bus.run(again, action.at)
