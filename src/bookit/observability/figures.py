"""What the store says of how the service is doing: the figures behind /metrics' gauges,
/readyz and `bookit status`. A few indexed queries, read fresh each time.

- follower positions and lag: how many stored events each follower has not passed;
- the oldest pending email: the age of the first event after the mailer's position that owes
  mail (0 when the mailer is caught up);
- overdue timers by kind: due more than `BOOKIT_OVERDUE_SECONDS` (120) ago and still there
  (a tick takes every due timer, so one left that long means ticks are not running or failing);
- open offers: waitlist entries offered now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bookit.localtime import iso
from bookit.projections import due_timers as timers
from bookit.projections.tables import due_timers, positions, waitlist_entries

# Every follower of the event store, by the name its position is kept under. events_out runs
# only with a broker.
READ_MODELS, MAIL, EVENTS_OUT = "read_models", "mail", "events_out"
TIMER_KINDS = (
    timers.REMIND,
    timers.AUTO_CANCEL,
    timers.EXPIRE_OFFER,
    timers.CLOSE_QUEUE,
    timers.OPEN_OFFER,
    timers.OPEN_CHECK_IN,
    timers.NO_SHOW,
)
OVERDUE_SECONDS = 120.0


@dataclass
class Figures:
    last_event: int
    positions: dict[str, int]
    lag: dict[str, int]
    oldest_pending_seconds: float
    overdue: dict[str, int] = field(default_factory=dict)
    offers_open: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "last_event": self.last_event,
            "followers": {
                name: {"position": self.positions[name], "lag": self.lag[name]} for name in self.positions
            },
            "oldest_pending_email_seconds": round(self.oldest_pending_seconds, 3),
            "timers_overdue": self.overdue,
            "waitlist_offers_open": self.offers_open,
        }


def followers(bus_url: str) -> tuple[str, ...]:
    return (READ_MODELS, MAIL) if bus_url == "local" else (READ_MODELS, MAIL, EVENTS_OUT)


def overdue_slack() -> timedelta:
    text = os.environ.get("BOOKIT_OVERDUE_SECONDS", "").strip()
    return timedelta(seconds=float(text) if text else OVERDUE_SECONDS)


def read(service: Any, bus_url: str, now: datetime) -> Figures:
    """The figures, now; raises what the store raises when it does not answer."""
    from bookit.policies.mail.owed import MAILED_TOPICS

    names = followers(bus_url)
    with service.engine.connect() as conn:  # first: it fails at once when the server refuses
        found = dict(
            conn.execute(
                select(positions.c.name, positions.c.position).where(positions.c.name.in_(names))
            ).all()
        )
        at = {name: int(found.get(name, 0)) for name in names}
        due_before = iso(now - overdue_slack())
        counted = conn.execute(
            select(due_timers.c.kind, func.count())
            .where(due_timers.c.due_at < due_before)
            .group_by(due_timers.c.kind)
        ).all()
        offers = conn.execute(
            select(func.count()).select_from(waitlist_entries).where(waitlist_entries.c.status == "offered")
        ).scalar_one()
    last = service.app.recorder.max_notification_id() or 0
    overdue = dict.fromkeys(TIMER_KINDS, 0)
    for kind, count in counted:
        key = kind if kind in overdue else "other"
        overdue[key] = overdue.get(key, 0) + int(count)
    oldest = 0.0
    if at[MAIL] < last:
        pending = service.app.recorder.select_notifications(
            start=at[MAIL] + 1, limit=1, topics=sorted(MAILED_TOPICS)
        )
        if pending:
            stored_at = service.app.mapper.to_domain_event(pending[0]).timestamp
            oldest = max(0.0, (now - stored_at).total_seconds())
    return Figures(
        last_event=last,
        positions=at,
        lag={name: max(0, last - position) for name, position in at.items()},
        oldest_pending_seconds=oldest,
        overdue=overdue,
        offers_open=int(offers),
    )
