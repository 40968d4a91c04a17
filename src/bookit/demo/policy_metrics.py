"""How well a waitlist policy filled freed time, read back from a store's events and emails.

A *freeing* is a slot's time going to its queue: it starts with the first offer made while no
offer of that slot is open, and it goes on through expiries and declines (the next people are
offered in the same command) until someone claims it, or no offer of it is open any more at the
end of a command (the queue ran dry, or the slot started).

- `claimed_share`: hours of freeings that ended in a claim / hours of all freeings.
- `median_minutes_to_claim`: from the freeing's first offer to the claim.
- `offers_per_claim`: offer emails sent / claims.
- `emails_per_person`: waitlist emails sent / people who joined a queue.
- `lost_to_behind`: the share of claims won while someone ahead of the winner in line had been
  offered the same freeing and had not declined or left (they lost it to a faster or a later
  reader behind them).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bookit.aggregates.waitlist import WaitlistSlot
from bookit.projections.tables import emails_sent
from bookit.testing.invariants import notifications

WAITLIST_KINDS = (
    "waitlist-offer",
    "waitlist-claimed",
    "waitlist-expired",
    "waitlist-closed",
    "waitlist-taken",
)


@dataclass
class _Freeing:
    started: datetime
    offered: dict[str, str] = field(default_factory=dict)  # entry -> open|expired|declined|left|taken


@dataclass
class _Slot:
    hours: float
    order: dict[str, tuple[int, int]] = field(default_factory=dict)
    freeing: _Freeing | None = None


@dataclass
class PolicyFigures:
    freed_hours: float = 0.0
    claimed_hours: float = 0.0
    claims: int = 0
    minutes_to_claim: list[float] = field(default_factory=list)
    lost_to_behind: int = 0
    joined: set[str] = field(default_factory=set)

    def table_row(self, emails: Counter[str]) -> dict[str, Any]:
        offers = emails["waitlist-offer"]
        waitlist_emails = sum(emails[k] for k in WAITLIST_KINDS)
        return {
            "freed_hours": round(self.freed_hours, 1),
            "claimed_share": round(self.claimed_hours / self.freed_hours, 3) if self.freed_hours else None,
            "median_minutes_to_claim": (
                round(statistics.median(self.minutes_to_claim), 1) if self.minutes_to_claim else None
            ),
            "offers_per_claim": round(offers / self.claims, 2) if self.claims else None,
            "emails_per_person": round(waitlist_emails / len(self.joined), 2) if self.joined else None,
            "lost_to_behind": round(self.lost_to_behind / self.claims, 3) if self.claims else None,
            "claims": self.claims,
            "offer_emails": offers,
        }


def measure(app: Any, engine: Engine) -> dict[str, Any]:
    """The figures of the module docstring for everything in `app`'s store."""
    figures = read_figures(app)
    with engine.connect() as conn:
        rows = conn.execute(select(emails_sent.c.kind, func.count()).group_by(emails_sent.c.kind)).all()
    return figures.table_row(Counter({kind: count for kind, count in rows}))


def read_figures(app: Any, keep: Callable[[Any], bool] | None = None) -> PolicyFigures:
    """Freeings, claims and who lost out, from the waitlist events in `app`'s store; `keep`
    picks the slots to count (by their `WaitlistSlot.Opened`), all of them by default."""
    return _Reader(keep).read(app)


class _Reader:
    def __init__(self, keep: Callable[[Any], bool] | None = None) -> None:
        self.keep = keep
        self.figures = PolicyFigures()
        self.slots: dict[str, _Slot] = {}
        self.touched: set[str] = set()
        self.command: str | None = None

    def read(self, app: Any) -> PolicyFigures:
        for notification in notifications(app):
            if not notification.topic.startswith("waitlist."):
                continue
            event = app.mapper.to_domain_event(notification)
            if event.command_id != self.command:
                self._command_done()
                self.command = event.command_id
            self._apply(event)
        self._command_done()
        return self.figures

    def _apply(self, e: Any) -> None:
        slot_id = str(e.originator_id)
        if isinstance(e, WaitlistSlot.Opened):
            if self.keep is None or self.keep(e):
                self.slots[slot_id] = _Slot((e.ends_at - e.starts_at) / timedelta(hours=1))
            return
        slot = self.slots.get(slot_id)
        if slot is None:
            return
        self.touched.add(slot_id)
        if isinstance(e, WaitlistSlot.Joined):
            slot.order[e.entry_id] = (e.priority, e.seq)
            self.figures.joined.add(e.user)
        elif isinstance(e, WaitlistSlot.Notified):
            if slot.freeing is None:
                slot.freeing = _Freeing(e.timestamp)
                self.figures.freed_hours += slot.hours
            slot.freeing.offered[e.entry_id] = "open"
        elif isinstance(e, WaitlistSlot.Claimed) and slot.freeing is not None:
            self._claimed(slot, slot.freeing, e)
        elif slot.freeing is not None:
            self._ended(slot.freeing, e)

    def _claimed(self, slot: _Slot, freeing: _Freeing, e: WaitlistSlot.Claimed) -> None:
        self.figures.claims += 1
        self.figures.claimed_hours += slot.hours
        self.figures.minutes_to_claim.append((e.timestamp - freeing.started) / timedelta(minutes=1))
        winner = slot.order[e.entry_id]
        passed_over = [
            entry
            for entry, status in freeing.offered.items()
            if slot.order[entry] < winner and status in ("open", "expired", "taken")
        ]
        if passed_over:
            self.figures.lost_to_behind += 1
        slot.freeing = None

    @staticmethod
    def _ended(freeing: _Freeing, e: Any) -> None:
        status = {
            WaitlistSlot.Expired: "expired",
            WaitlistSlot.Declined: "declined",
            WaitlistSlot.Left: "left",
        }.get(type(e))
        if status is not None and e.entry_id in freeing.offered:
            freeing.offered[e.entry_id] = status
        if isinstance(e, WaitlistSlot.Closed):
            for entry_id in e.entry_ids:
                if entry_id in freeing.offered:
                    freeing.offered[entry_id] = "expired"

    def _command_done(self) -> None:
        for slot_id in self.touched:
            slot = self.slots[slot_id]  # only slots kept are touched
            freeing = slot.freeing
            if freeing is not None and "open" not in freeing.offered.values():
                slot.freeing = None  # nobody holds it any more: the freeing ended unclaimed
        self.touched.clear()
