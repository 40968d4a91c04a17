"""Policy: freed time goes to the waitlist first (DESIGN rules 6-8, 15, 16).

Called inside the same use case (and the same atomic save) as whatever freed the time: a
cancellation, an auto-cancellation, an offer that expired, was declined or was given up. That is
deliberate: if offering were a separate step after the save, there would be a moment when the
slot is free and not held, and someone outside the queue could book it first.

How the time is offered (window, quiet hours, one/batch/all) is the `OfferPolicy` the caller
builds from the venue's rules in force now (rule 12); this module only applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bookit.aggregates.base import Cause
from bookit.aggregates.offer_policy import OfferPolicy
from bookit.aggregates.venue_day import Interval, VenueDay
from bookit.aggregates.waitlist import WaitlistSlot


def offer_freed_time(
    day: VenueDay,
    freed: Interval,
    slots: Sequence[WaitlistSlot],
    policy: OfferPolicy,
    cause: Cause,
    buffer: int = 0,
) -> list[WaitlistSlot]:
    """Offer each queue touching the freed time, earliest slot first, if its slot is now free.

    Returns the slots that made an offer. A slot that has started is never offered (its queue
    is closed by the clock); a slot still partly taken by another booking, or too close to one
    for the venue's buffer, is left waiting. Time a no-show freed after a slot's start is offered
    while its queue is open, with offers that end before the slot does (rule 14). Everyone
    offered one freeing together shares one hold, which any of them may claim.
    """
    offered = []
    for slot in sorted(slots, key=lambda s: (s.starts_at, s.ends_at, str(s.id))):
        if not slot.interval_overlaps(freed) or not day.is_free(slot.starts_at, slot.ends_at, buffer):
            continue
        entries = slot.offer(policy, cause)
        if not entries:
            continue
        first, *others = entries
        assert first.deadline is not None
        interval = Interval(slot.starts_at, slot.ends_at)
        shared = tuple(e.entry_id for e in others)
        day.hold(first.entry_id, interval, first.deadline, cause, buffer, shared_with=shared)
        offered.append(slot)
    return offered
