"""Policy: the clock. A tick turns every due timer into the command it nominates.

The projection only nominates; the aggregate decides. A timer that lags behind the truth (the
booking was confirmed a moment ago) yields a command that the booking refuses or ignores, and
the command's id is derived from the timer, so running the same tick twice does nothing twice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.projections import due_timers as timers


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
