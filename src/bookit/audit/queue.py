"""A waitlist queue replayed from its audit rows: who was where, after each event.

The `WaitlistSlot` aggregate forgets entries once they are out of the queue (its snapshots stay
small); a person disputing their place needs the whole story, so this replays the slot's
recorded events into a model that keeps everyone, with how each one's time in the queue ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WAITING, OFFERED = "waiting", "offered"
_ENDS = {
    "waitlist.left": "left",
    "waitlist.claimed": "claimed",
    "waitlist.declined": "declined",
    "waitlist.expired": "expired",
}


@dataclass
class Place:
    entry_id: str
    user: str
    priority: int
    seq: int
    joined_at: str
    status: str = WAITING
    deadline: str | None = None
    offers: int = 0

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.seq)

    def label(self) -> str:
        return f"{self.user} (priority {self.priority}, #{self.seq})"


class Queue:
    """Feed the slot's rows in order with `apply`; ask it where everyone stands in between."""

    def __init__(self) -> None:
        self.places: dict[str, Place] = {}
        self.slot: dict[str, Any] = {}

    def apply(self, row: dict[str, Any]) -> None:
        topic, data = row["topic"], row["data"]
        if topic == "waitlist.opened":
            self.slot = data
        elif topic == "waitlist.joined":
            self.places[data["entry_id"]] = Place(
                data["entry_id"], data["user"], data["priority"], data["seq"], row["at"]
            )
        elif topic == "waitlist.notified":
            place = self.places[data["entry_id"]]
            place.status, place.deadline, place.offers = OFFERED, data["deadline"], place.offers + 1
        elif topic in _ENDS:
            self.places[data["entry_id"]].status = _ENDS[topic]
        elif topic == "waitlist.closed":
            for entry_id in data["entry_ids"]:
                self.places[entry_id].status = "closed"
        elif topic == "waitlist.offer_taken":  # batch/all modes: back to their place in line
            for entry_id in data["entry_ids"]:
                place = self.places[entry_id]
                place.status, place.deadline = WAITING, None

    def waiting(self) -> list[Place]:
        return sorted((p for p in self.places.values() if p.status == WAITING), key=lambda p: p.order)

    def offered(self) -> Place | None:
        return next((p for p in self.places.values() if p.status == OFFERED), None)

    def all_offered(self) -> list[Place]:
        return sorted((p for p in self.places.values() if p.status == OFFERED), key=lambda p: p.order)

    def position(self, entry_id: str) -> int | None:
        """0 while offered, 1 for the next in line, None once out of the queue."""
        place = self.places.get(entry_id)
        if place is None or place.status not in (WAITING, OFFERED):
            return None
        if place.status == OFFERED:
            return 0
        return 1 + sum(1 for p in self.waiting() if p.order < place.order)

    def summary(self) -> str:
        offered, waiting = self.all_offered(), self.waiting()
        parts = [f"offered: {p.user} until {p.deadline}" for p in offered]
        if waiting:
            parts.append("waiting: " + ", ".join(p.label() for p in waiting))
        return "; ".join(parts) or "nobody in line"

    def what_slot(self) -> str:
        s = self.slot
        return f"{s.get('venue_id')} {s.get('date')} {s.get('start')}-{s.get('end')}" if s else "the slot"
