"""How much time no-shows freed, and how much of it the waitlist recovered (DESIGN rule 14),
read back from the stored history: what the simulated month reports with check-in on.

Freed: from each no-show's release to its booking's end. Recovered: the part of that time that
a booking claimed from the waitlist after the release covers at the same venue and date, from
the moment it was claimed (time before a claim is lost, even if the claim books all of it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bookit.aggregates.booking import Booking
from bookit.testing.invariants import notifications

_TOPICS = frozenset(("booking.booked", "booking.no_show", "booking.checked_in"))


@dataclass(frozen=True)
class _Span:
    venue_day: tuple[str, str]
    starts_at: datetime
    ends_at: datetime


def no_show_figures(app: Any) -> dict[str, int]:
    booked: dict[str, _Span] = {}
    freed: list[_Span] = []
    claims: dict[tuple[str, str], list[_Span]] = defaultdict(list)
    check_ins = 0
    for notification in notifications(app):
        if notification.topic not in _TOPICS:
            continue
        event = app.mapper.to_domain_event(notification)
        booking_id = str(event.originator_id)
        if isinstance(event, Booking.Booked):
            span = _Span((event.venue_id, event.date), event.starts_at, event.ends_at)
            booked[booking_id] = span
            if event.waitlist_entry_id is not None:
                # Counted from the claim: what was lost before it stays lost.
                claims[span.venue_day].append(
                    _Span(span.venue_day, max(event.timestamp, span.starts_at), span.ends_at)
                )
        elif isinstance(event, Booking.NoShow):
            span = booked[booking_id]
            freed.append(_Span(span.venue_day, event.timestamp, span.ends_at))
        else:
            check_ins += 1
    recovered = timedelta(0)
    for gap in freed:
        for claim in claims[gap.venue_day]:
            start, end = max(gap.starts_at, claim.starts_at), min(gap.ends_at, claim.ends_at)
            if start < end:
                recovered += end - start
    total = sum((gap.ends_at - gap.starts_at for gap in freed), timedelta(0))
    return {
        "check_ins": check_ins,
        "no_shows": len(freed),
        "no_show_minutes_freed": int(total / timedelta(minutes=1)),
        "no_show_minutes_recovered": int(recovered / timedelta(minutes=1)),
    }
