"""Aggregates kept in memory between commands, brought up to date before each use.

Loading a venue-day decodes and applies every event since its last snapshot (up to fifty): a
third of a booking's own work. A process keeps the aggregates its commands loaded or saved, at
the version they had when the command ended well, and the next command that wants one gets it
with only the events stored since (one query, usually empty: another worker's or the command
line's writes are seen there). So a copy is always the store's, never a guess.

A copy is lent, not shared: `lend` takes it out, so two commands never hold one object, and
nothing that a command changed and did not store can come back. When the command ends well,
`handle` gives back what it loaded and what it saved (`give_back`), each with nothing pending.
A command that fails (refused, lost a race, crashed) gives nothing back, and the next one
loads from the store. One store of copies serves every thread of the process (the worker's, the
HTTP API's): a copy lent to one thread is simply not there for another, which loads its own. At
most `size` copies, the least recently used dropped first. One assumption: an event's apply
never fails half-way (events are facts, checked before they are triggered), so a copy with no
events pending is as the store has it. The library's own cache (`AGGREGATE_CACHE_MAXSIZE`)
deep-copies an aggregate on every get to be safe from a failed command, which costs a third of
what loading does here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate

KEPT = 512  # aggregates kept (venues, their days, the bookings being confirmed, ...)


class KeptCopies:
    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._copies: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._lock = threading.Lock()

    def lend(self, ident: UUID) -> Aggregate | None:
        """The kept copy of `ident`, taken out (the caller brings it up to date), or None."""
        with self._lock:
            return self._copies.pop(ident, None)

    def give_back(self, aggregates: Iterable[Aggregate]) -> None:
        """Keep these, as of now: only those with no events pending (the store has them all)."""
        kept = [a for a in aggregates if not a.pending_events] if self.size > 0 else []
        with self._lock:
            for aggregate in kept:
                self._copies[aggregate.id] = aggregate
                self._copies.move_to_end(aggregate.id)
            while len(self._copies) > self.size:
                self._copies.popitem(last=False)
