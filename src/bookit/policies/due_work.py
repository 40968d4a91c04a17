"""Policy: the clock. A tick turns every due timer into the command it nominates.

The projection only nominates; the aggregate decides. A timer that lags behind the truth (the
booking was confirmed a moment ago) yields a command that the booking refuses or ignores, and
the command's id is derived from the timer, so running the same tick twice does nothing twice.
A tick handles every due timer, then looks again, so a tick after an outage leaves nothing due
behind it. What is due at once runs as one group of commands, stored in one atomic save
(`unit_of_work.py`); each command still decides alone, and a refusal touches no other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Engine

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.application import Outcome
from bookit.errors import BookitError
from bookit.localtime import iso
from bookit.projections import due_timers as timers
from bookit.projections import queries
from bookit.unit_of_work import Result

log = logging.getLogger(__name__)


class Bus(Protocol):
    def run_all(self, commands: Sequence[c.Command], now: datetime) -> list[Result]: ...

    def settle(self, now: datetime) -> None: ...


def command_for(timer: Any) -> c.Command:
    """The command a due-timers row stands for (row has kind, subject_id, slot_id, command_id)."""
    command_id = UUID(timer.command_id)
    subject = UUID(timer.subject_id)
    if timer.kind == timers.REMIND:
        return c.SendReminder(command_id=command_id, actor=SYSTEM, booking_id=subject)
    if timer.kind == timers.AUTO_CANCEL:
        return c.AutoCancel(command_id=command_id, actor=SYSTEM, booking_id=subject)
    if timer.kind == timers.EXPIRE_OFFER:
        return c.ExpireOffer(
            command_id=command_id, actor=SYSTEM, slot_id=UUID(timer.slot_id), entry_id=subject
        )
    if timer.kind == timers.OPEN_OFFER:
        return c.OpenOfferWindow(
            command_id=command_id, actor=SYSTEM, slot_id=UUID(timer.slot_id), entry_id=subject
        )
    if timer.kind == timers.OPEN_CHECK_IN:
        return c.OpenCheckIn(command_id=command_id, actor=SYSTEM, booking_id=subject)
    if timer.kind == timers.NO_SHOW:
        return c.ReleaseNoShow(command_id=command_id, actor=SYSTEM, booking_id=subject)
    if timer.kind == timers.CLOSE_QUEUE:
        return c.CloseWaitlist(command_id=command_id, actor=SYSTEM, slot_id=subject)
    raise ValueError(f"unknown timer kind {timer.kind!r}")


class DueWork:
    """The bus's ticker: reads the due timers from the read models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def tick(self, bus: Bus, now: datetime) -> Outcome:
        """Handle everything due at or before `now` that has not been handled."""
        bus.settle(now)
        handled, skipped = 0, 0
        done: dict[str, int] = {}
        tried: set[str] = set()
        while True:
            due = [t for t in queries.due(self.engine, now) if t.command_id not in tried]
            if not due:
                break
            tried |= {timer.command_id for timer in due}
            results = bus.run_all([command_for(timer) for timer in due], now)
            for timer, result in zip(due, results, strict=True):
                if isinstance(result, BookitError):
                    log.warning("due %s for %s not handled: %s", timer.kind, timer.subject_id, result)
                    skipped += 1
                    continue
                handled += 0 if "skipped" in result else 1
                skipped += 1 if "skipped" in result else 0
                if "skipped" not in result:
                    done[timer.kind] = done.get(timer.kind, 0) + 1
            bus.settle(now)
        return {"now": iso(now), "handled": handled, "skipped": skipped, "done": done}


# What each kind of due work is, told to a person: (one, many).
_DONE_WORDS = {
    timers.REMIND: ("reminder sent", "reminders sent"),
    timers.AUTO_CANCEL: ("unconfirmed booking auto-cancelled", "unconfirmed bookings auto-cancelled"),
    timers.EXPIRE_OFFER: ("waitlist offer expired", "waitlist offers expired"),
    timers.OPEN_OFFER: ("waitlist offer window opened", "waitlist offer windows opened"),
    timers.CLOSE_QUEUE: ("waitlist closed (its slot started)", "waitlists closed (their slots started)"),
    timers.OPEN_CHECK_IN: ("check-in opened", "check-ins opened"),
    timers.NO_SHOW: ("no-show released", "no-shows released"),
}


def told(outcome: Outcome) -> str:
    """A tick's outcome in words: what it did, or that nothing was due."""
    done = outcome.get("done") or {}
    parts = [f"{n} {_DONE_WORDS.get(kind, (kind, kind))[n != 1]}" for kind, n in sorted(done.items())]
    if outcome.get("skipped"):
        parts.append(f"{outcome['skipped']} due item(s) needed nothing (already settled)")
    return f"{outcome['now']}: {', '.join(parts) if parts else 'nothing was due'}"
