"""`bookit history ID`: the story of a booking, a waitlist entry or a whole waitlist slot.

Each step is an audit row (what, when, by whom, caused by which command or due timer) and, for
entries and slots, a sentence a person can read ("joined at position 2", "offered until ...").
With `emails`, each step also lists the emails its event owed, as recorded: kind, recipient,
Message-ID, and whether the mail server took it or refused it (and why).

A booking's steps without emails are exactly today's audit rows, so scripts keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bookit.audit import records
from bookit.audit.queue import Queue
from bookit.audit.resolve import BOOKING, ENTRY, SLOT, Subject, resolve
from bookit.errors import BadInput
from bookit.projections import queries

Step = dict[str, Any]


@dataclass
class History:
    subject: Subject
    steps: list[Step] = field(default_factory=list)


def history(service: Any, text: str, *, emails: bool = False) -> History:
    """The history of whatever `text` names; BadInput for an unknown or malformed id."""
    subject = resolve(service.app, text)
    engine = service.engine
    if subject.kind == BOOKING:
        steps = queries.history(engine, str(subject.id))
        subjects: set[str] | None = {str(subject.id)}
    elif subject.kind == ENTRY:
        steps, subjects = _entry_steps(engine, subject)
    else:
        steps, subjects = _slot_steps(engine, str(subject.id)), None
    if not steps:
        raise BadInput(f"no history recorded yet for {subject.kind} {subject.id}", "no_history")
    if emails:
        found = records.emails_at(engine, (s["position"] for s in steps), subjects)
        for step in steps:
            step["emails"] = found.get(step["position"], [])
    return History(subject, steps)


def _slot_steps(engine: Any, slot_id: str) -> list[Step]:
    queue = Queue()
    steps = []
    for row in records.rows_of_aggregate(engine, slot_id):
        before = queue.position(row["data"].get("entry_id", ""))
        queue.apply(row)
        row["text"] = describe(row, queue, before)
        row["queue"] = queue.summary()
        steps.append(row)
    return steps


def _entry_steps(engine: Any, subject: Subject) -> tuple[list[Step], set[str]]:
    entry_id, slot_id = str(subject.id), subject.aggregate.slot_id
    queue = Queue()
    mine: dict[int, Step] = {}
    booking_id = None
    for row in records.rows_of_aggregate(engine, slot_id):
        data = row["data"]
        before = queue.position(entry_id)
        queue.apply(row)
        if data.get("entry_id") == entry_id or entry_id in data.get("entry_ids", ()):
            row["text"] = describe(row, queue, before, entry_id=entry_id)
            mine[row["position"]] = row
            booking_id = data.get("booking_id", booking_id)
    for row in records.rows_about(engine, entry_id=entry_id, booking_id=booking_id):
        if row["position"] not in mine:
            row["text"] = describe(row, queue, None, entry_id=entry_id)
            mine[row["position"]] = row
    steps = [mine[p] for p in sorted(mine)]
    return steps, {entry_id} | ({booking_id} if booking_id else set())


def describe(row: Step, queue: Queue, before: int | None, entry_id: str | None = None) -> str:
    """One sentence for a person; `queue` is the queue just after the event, `before` the
    entry's position just before it."""
    d, topic = row["data"], row["topic"]
    place = queue.places.get(d.get("entry_id", ""))
    who = place.user if place else d.get("user", "someone")
    if topic == "waitlist.opened":
        return f"queue opened for {queue.what_slot()} (the slot starts {d['starts_at']})"
    if topic == "waitlist.joined":
        where = queue.position(d["entry_id"])
        return (
            f"{who} joined the queue for {queue.what_slot()} at position {where} "
            f"(priority {d['priority']}, join #{d['seq']})"
        )
    if topic == "waitlist.notified":
        return f"{who} was offered the slot until {d['deadline']}" + (
            f" (was position {before})" if before else ""
        )
    if topic == "waitlist.expired":
        return f"{who}'s offer ran out at {place.deadline if place else '?'}, unclaimed: passed on"
    if topic == "waitlist.declined":
        return f"{who} declined the offer: passed on"
    if topic == "waitlist.left":
        return f"{who} left the queue" + (" (and gave up an open offer)" if before == 0 else "")
    if topic == "waitlist.claimed":
        return f"{who} claimed the offer: it became booking {d['booking_id']}"
    if topic == "waitlist.closed":
        if entry_id is not None:
            return "the slot started while this entry was still in the queue: the queue closed"
        return f"the slot started: the queue closed with {len(d['entry_ids'])} still in it, told"
    if topic == "waitlist.offer_taken":
        whom = "this entry" if entry_id is not None else f"{len(d['entry_ids'])} offered together"
        return f"someone else claimed the shared offer first: {whom} back in line"
    if topic == "waitlist.window_opened":
        return f"quiet hours over: {who}'s offer window opens now"
    return _other(topic, d, row)


def _other(topic: str, d: dict[str, Any], row: Step) -> str:
    if topic == "ticket.issued":
        return f"entry issued to {d['user']} in queue {d['slot_id']}"
    if topic == "allowance.entry_counted":
        return "counted against the user's daily waitlist limit"
    if topic == "venue_day.interval_held":
        return f"the slot's time is held for this offer until {d['until']}"
    if topic == "venue_day.hold_lifted":
        return "the hold on the slot's time is lifted"
    if topic == "venue_day.interval_taken":
        return f"{d['starts_at']}-{d['ends_at']} taken for booking {d['booking_id']}"
    if topic == "venue_day.interval_released":
        return f"the time of booking {d['booking_id']} is released"
    if topic == "booking.booked":
        how = "confirmed by the claim" if d.get("confirmed") else "to be confirmed"
        return f"booking {row['aggregate_id']} made for {d['user']}, {how}"
    if topic.startswith("booking."):
        reason = f": {d['reason']}" if d.get("reason") else ""
        return f"booking {row['aggregate_id']} {topic.split('.', 1)[1].replace('_', ' ')}{reason}"
    return topic


def email_line(email: dict[str, Any]) -> str:
    outcome = (
        f"delivered at {email['at']}"
        if email["outcome"] == "delivered"
        else f"REFUSED at {email['at']}: {email['error']}"
    )
    return f"\temail {email['kind']} to {email['recipient']} {email['message_id']}: {outcome}"


__all__ = ["ENTRY", "SLOT", "History", "Step", "describe", "email_line", "history"]
