"""Aggregates kept in memory between commands, brought up to date before each use.

Loading a venue-day decodes and applies every event since its last snapshot (up to fifty): a
third of a booking's own work. A thread of a worker keeps the aggregates its commands loaded
or saved, at the version they had when the command ended well, and the next command that wants
one gets it with only the events stored since (one query, usually empty: another worker's or
the command line's writes are seen there). So a copy is always the store's, never a guess.

A copy is lent, not shared: `lend` takes it out, so two commands never hold one object, and
nothing that a command changed and did not store can come back. When the command ends well,
`handle` gives back what it loaded and what it saved (`give_back`), each with nothing pending.
A command that fails (refused, lost a race, crashed) gives nothing back, and the next one
loads from the store. Copies are per thread, at most `size` of them, the least recently used
dropped first. The library's own cache (`AGGREGATE_CACHE_MAXSIZE`) deep-copies an aggregate on
every get to be safe from a failed command, which costs a third of what loading does here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate

KEPT = 512  # aggregates a thread keeps (a venue, its days, the bookings being confirmed, ...)


class KeptCopies:
    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._copies: OrderedDict[UUID, Aggregate] = OrderedDict()
        self.lent: list[Aggregate] | None = None  # while a command runs: what it loaded and saved

    def lend(self, ident: UUID) -> Aggregate | None:
        """The kept copy of `ident`, taken out (the caller brings it up to date), or None."""
        return self._copies.pop(ident, None)

    def give_back(self, aggregates: Iterable[Aggregate]) -> None:
        """Keep these, as of now: only those with no events pending (the store has them all)."""
        for aggregate in aggregates:
            if aggregate.pending_events or self.size <= 0:
                continue
            self._copies[aggregate.id] = aggregate
            self._copies.move_to_end(aggregate.id)
        while len(self._copies) > self.size:
            self._copies.popitem(last=False)
