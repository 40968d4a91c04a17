"""`bookit explain ENTRY`: who was ahead of an entry at each offer, and why.

"Why did she get it before me" has a printed answer: at every offer made while the entry was in
the queue, who was offered and why they came first (a lower priority number, set by the desk,
or the same priority and an earlier join), who else was still ahead, and who had dropped out
of the line since (left, let an offer expire, declined, claimed).
"""

from __future__ import annotations

from typing import Any

from bookit.audit import records
from bookit.audit.queue import OFFERED, WAITING, Place, Queue
from bookit.audit.resolve import ENTRY, resolve


def why_ahead(other: Place, mine: Place) -> str:
    if other.entry_id == mine.entry_id:
        return "you were first in line"
    if other.priority < mine.priority:
        return f"priority {other.priority} goes before your {mine.priority}"
    if other.priority == mine.priority and other.seq < mine.seq:
        return f"same priority, joined before you (#{other.seq} before your #{mine.seq})"
    return "was BEHIND you in line: this offer broke the queue's order (run `bookit check`)"


def _who(place: Place, **more: Any) -> dict[str, Any]:
    return {
        "entry_id": place.entry_id,
        "user": place.user,
        "priority": place.priority,
        "seq": place.seq,
    } | more


def explain(service: Any, text: str) -> dict[str, Any]:
    subject = resolve(service.app, text, (ENTRY,))
    entry_id = str(subject.id)
    queue = Queue()
    offers: list[dict[str, Any]] = []
    ahead_before: dict[str, Place] = {}
    joined: dict[str, Any] = {}
    for row in records.rows_of_aggregate(service.engine, subject.aggregate.slot_id):
        was_in_line = queue.position(entry_id) is not None
        queue.apply(row)
        mine = queue.places.get(entry_id)
        if mine is None:
            continue
        if row["topic"] == "waitlist.joined" and row["data"]["entry_id"] == entry_id:
            joined = {"at": row["at"], "position": queue.position(entry_id), **_who(mine)}
            ahead_before = {p.entry_id: p for p in queue.waiting() if p.order < mine.order}
        if row["topic"] != "waitlist.notified" or not was_in_line:
            continue
        offered = queue.places[row["data"]["entry_id"]]
        ahead = [p for p in queue.waiting() if p.order < mine.order]
        gone = [p for p in ahead_before.values() if p.status not in (WAITING, OFFERED)]
        offers.append(
            {
                "at": row["at"],
                "deadline": row["data"]["deadline"],
                "offered": _who(offered, why=why_ahead(offered, mine)),
                "you": offered.entry_id == entry_id,
                "still_ahead": [_who(p, why=why_ahead(p, mine)) for p in ahead],
                "dropped_out": [_who(p, how=p.status) for p in gone],
            }
        )
        # Whoever was just offered is still ahead until that offer ends one way or another.
        ahead_before = {p.entry_id: p for p in [*ahead, offered] if p.entry_id != entry_id}
    final = queue.places[entry_id]
    return {"entry_id": entry_id, "joined": joined, "offers": offers, "status": final.status}


def explain_lines(result: dict[str, Any]) -> list[str]:
    j = result["joined"]
    lines = [
        f"{j['at']}\t{j['user']} joined at position {j['position']} "
        f"(priority {j['priority']}, join #{j['seq']})"
    ]
    if not result["offers"]:
        lines.append("\tno offer was made while this entry was in the queue")
    for offer in result["offers"]:
        o = offer["offered"]
        whom = "you" if offer["you"] else f"{o['user']} (priority {o['priority']}, #{o['seq']})"
        lines.append(f"{offer['at']}\toffered to {whom} until {offer['deadline']}: {o['why']}")
        lines += [f"\t\tno longer ahead of you: {p['user']} ({p['how']})" for p in offer["dropped_out"]]
        lines += [f"\t\tstill ahead of you: {p['user']}: {p['why']}" for p in offer["still_ahead"]]
    lines.append(f"\tnow: {result['status']}")
    return lines
