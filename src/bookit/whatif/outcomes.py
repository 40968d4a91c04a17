"""What came of a history, for `bookit whatif` to set actual beside what-if.

Everything is read from a store's events (and, for emails, its record of emails sent), for the
slots in scope: the venue asked about, if any, and slot dates in [from, to].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from bookit.aggregates.booking import Booking
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.demo.policy_metrics import read_figures
from bookit.projections.tables import emails_sent
from bookit.testing.invariants import notifications


@dataclass(frozen=True)
class Scope:
    venue: str | None = None
    first: date | None = None
    last: date | None = None

    def holds(self, venue_id: str, day: str) -> bool:
        when = date.fromisoformat(day)
        return (
            (self.venue is None or venue_id == self.venue)
            and (self.first is None or when >= self.first)
            and (self.last is None or when <= self.last)
        )


@dataclass
class Outcome:
    bookings: int = 0
    auto_cancelled: dict[str, str] = field(default_factory=dict)  # booking -> "user date start"
    offers: int = 0
    claims: dict[str, str] = field(default_factory=dict)  # entry -> "user date start"
    freed_hours: float = 0.0
    filled_hours: float = 0.0
    emails: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "bookings": self.bookings,
            "auto_cancellations": len(self.auto_cancelled),
            "offers": self.offers,
            "claims": len(self.claims),
            "freed_hours": round(self.freed_hours, 1),
            "freed_hours_filled": round(self.filled_hours, 1),
            "emails": self.emails,
        }


def outcome_of(app: Any, engine: Engine | None, scope: Scope) -> Outcome:
    """The outcome of everything in `app`'s store within `scope`; emails from `engine`'s record
    of emails sent (None: not counted here)."""
    out = Outcome()
    bookings: dict[str, str] = {}  # booking in scope -> "user date start"
    slots: dict[str, tuple[str, str, str]] = {}  # slot in scope -> (date, start, venue)
    subjects: set[str] = set()
    for notification in notifications(app):
        if not notification.topic.startswith(("booking.", "waitlist.")):
            continue
        e = app.mapper.to_domain_event(notification)
        key = str(e.originator_id)
        if isinstance(e, Booking.Booked):
            if scope.holds(e.venue_id, e.date):
                bookings[key] = f"{e.user} {e.date} {e.start}"
                subjects.add(key)
                out.bookings += e.waitlist_entry_id is None
        elif isinstance(e, Booking.AutoCancelled) and key in bookings:
            out.auto_cancelled[key] = bookings[key]
        elif isinstance(e, WaitlistSlot.Opened) and scope.holds(e.venue_id, e.date):
            slots[key] = (e.date, e.start, e.venue_id)
        elif isinstance(e, WaitlistSlot.Joined) and key in slots:
            subjects.add(e.entry_id)
        elif isinstance(e, WaitlistSlot.Notified) and key in slots:
            out.offers += 1
        elif isinstance(e, WaitlistSlot.Claimed) and key in slots:
            day, start, _ = slots[key]
            out.claims[e.entry_id] = f"{e.actor} {day} {start}"
    figures = read_figures(app, keep=lambda opened: str(opened.originator_id) in slots)
    out.freed_hours, out.filled_hours = figures.freed_hours, figures.claimed_hours
    if engine is not None:
        with engine.connect() as conn:
            rows = conn.execute(select(emails_sent.c.subject_id)).scalars()
            out.emails = sum(1 for subject in rows if subject in subjects)
    return out


def compare(actual: Outcome, whatif: Outcome) -> dict[str, Any]:
    """Figures side by side, and who would have been affected, by name."""
    a, w = actual.figures(), whatif.figures()
    rows = [
        {"figure": name, "actual": a[name], "whatif": w[name], "change": _change(a[name], w[name])}
        for name in a
    ]
    cancelled = set(actual.auto_cancelled.values()), set(whatif.auto_cancelled.values())
    claimed = set(actual.claims.values()), set(whatif.claims.values())
    return {
        "figures": rows,
        "affected": {
            "auto_cancelled_only_actually": sorted(cancelled[0] - cancelled[1]),
            "auto_cancelled_only_in_whatif": sorted(cancelled[1] - cancelled[0]),
            "claimed_only_actually": sorted(claimed[0] - claimed[1]),
            "claimed_only_in_whatif": sorted(claimed[1] - claimed[0]),
        },
    }


def _change(before: float, after: float) -> float:
    return round(after - before, 1)
