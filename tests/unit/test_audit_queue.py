"""The queue as `bookit history SLOT` and `bookit explain` replay it from audit rows, including
the batch mode's shared offers (rule 15): whoever loses a shared offer goes back to their own
place in line, and a slot's history says so."""

from __future__ import annotations

from typing import Any

from bookit.audit.history import describe
from bookit.audit.queue import Queue


def row(topic: str, at: str = "2026-12-05T08:00:00Z", **data: Any) -> dict[str, Any]:
    return {"topic": topic, "at": at, "data": data}


def test_a_shared_offer_lost_to_a_faster_claim_puts_the_others_back_in_line() -> None:
    queue = Queue()
    queue.apply(row("waitlist.opened", venue_id="hall", date="2026-12-05", start="10:00", end="11:00"))
    for seq, user in enumerate(("ann", "bob", "cy"), start=1):
        queue.apply(row("waitlist.joined", entry_id=user, user=f"{user}@x.org", priority=0, seq=seq))
    queue.apply(row("waitlist.notified", entry_id="ann", deadline="2026-12-05T08:15:00Z"))
    queue.apply(row("waitlist.notified", entry_id="bob", deadline="2026-12-05T08:15:00Z"))
    assert queue.summary() == (
        "offered: ann@x.org until 2026-12-05T08:15:00Z; offered: bob@x.org until 2026-12-05T08:15:00Z; "
        "waiting: cy@x.org (priority 0, #3)"
    )
    queue.apply(row("waitlist.claimed", entry_id="bob", booking_id="b-1"))
    taken = row("waitlist.offer_taken", entry_ids=["ann"])
    queue.apply(taken)
    said = describe(taken, queue, None)
    assert said == "someone else claimed the shared offer first: 1 offered together back in line"
    assert queue.position("ann") == 1 and queue.position("cy") == 2 and queue.position("bob") is None
    assert queue.summary() == "waiting: ann@x.org (priority 0, #1), cy@x.org (priority 0, #3)"
