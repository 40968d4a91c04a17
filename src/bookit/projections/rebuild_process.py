"""A replay on two cores: a forked child gathers two pages of the log in three, this process the
others, and this process writes them all, in order, one transaction per page.

The log is cut into pages by notification id (page k holds ids k*size+1 to (k+1)*size), so the
two processes agree on the pages without talking. The child reads and decodes only its own pages
and runs the same handlers on a batch with no connection (`Batch(None)`), and sends back what
each would write (`Batch.pending`). Only two things a handler knows come from earlier pages:
- the waitlist slot a `Joined` event names, which the child reads from the store instead (the
  slot's first event, projected alone: a slot's venue, date and times never change);
- the due timers already in the table (`KnownTimers`), which let a replay skip deletes that
  would find nothing; the child does not know them, so its batches send every delete, and the
  rows end the same.
The parent writes the child's pages exactly as its own: the rows, and the position moved past
the page, in one transaction. A child that fails, or stops sending, leaves its pages to the
parent; either way the tables end as one process would leave them.

A child is only forked from a process with one thread (a fork copies no other thread, nor the
locks they held) and for a store another process can open (not the in-memory one). So on
PostgreSQL, whose connection pool runs threads of its own, a replay runs in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory, Mapper

from bookit.projections import waitlist
from bookit.projections.batch import Batch, Pending
from bookit.projections.projector import gather, handlers_by_type

_SHAREABLE = ("eventsourcing.sqlite", "eventsourcing.postgres")
_AHEAD = 3  # pages the child may have ready before the parent takes them
_POLL_S = 1.0  # how often a waiting parent checks that the child is still there


def page_range(k: int, size: int, end: int) -> tuple[int, int]:
    """The first and last notification ids of page `k` of a log that ends at `end`."""
    return k * size + 1, min((k + 1) * size, end)


def pages(size: int, end: int) -> int:
    return -(-end // size)


def childs(k: int) -> bool:
    """Whether the child gathers page `k`: two pages in three. The parent also writes every
    page, which costs about as much as gathering two."""
    return k % 3 != 0


class ChildPages:
    """Two pages in three of the log up to `end` (`childs`), gathered by a child process."""

    def __init__(self, app: Application[Any], end: int, size: int) -> None:
        self._process: Any = None
        env = dict(app.env)
        if (
            env.get("PERSISTENCE_MODULE") not in _SHAREABLE
            or threading.active_count() > 1
            or pages(size, end) < 2
        ):
            return
        env["CREATE_TABLE"] = "no"  # the child only reads
        context = multiprocessing.get_context("fork")
        self._pages: Any = context.Queue(_AHEAD)
        self._process = context.Process(
            target=_gather, args=(env, app.mapper, end, size, self._pages), daemon=True
        )
        self._process.start()

    def has(self, k: int) -> bool:
        """Whether page `k` is the child's to gather."""
        return self._process is not None and childs(k)

    def take(self, k: int) -> tuple[list[int], Pending] | None:
        """Page `k`'s notification ids and its batch; None if the child cannot give it (the
        caller gathers it itself, and every page after it)."""
        while self._process is not None:
            try:
                got = self._pages.get(timeout=_POLL_S)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                break
            if got is None or got[0] != k:
                break
            return got[1], got[2]
        self.close()
        return None

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._pages.close()
            self._process = None


def _gather(env: dict[str, str], mapper: Mapper[Any], end: int, size: int, out: Any) -> None:
    """The child: the batch of each of its pages, in order, then None."""
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    factory = InfrastructureFactory.construct(env)
    try:
        recorder = factory.application_recorder()
        handlers = handlers_by_type()
        slots: dict[str, Mapping[Any, Any]] = {}

        def slot(slot_id: str) -> Mapping[Any, Any]:
            if slot_id not in slots:
                (first,) = recorder.select_events(UUID(slot_id), limit=1)
                opened = Batch(None)
                waitlist.opened(opened, cast(Any, mapper.to_domain_event(first)))
                slots[slot_id] = opened.waitlist_slots.inserted[slot_id]
            return slots[slot_id]

        for k in filter(childs, range(pages(size, end))):
            first, last = page_range(k, size, end)
            page = recorder.select_notifications(start=first, stop=last, limit=size)
            batch = Batch(None, slots=slot)
            gather(batch, handlers, ((n.id, mapper.to_domain_event(n)) for n in page))
            out.put((k, [n.id for n in page], batch.pending()))
    finally:
        out.put(None)
        factory.close()


def _exit_when_orphaned(parent: int) -> None:
    """A child whose parent was killed has nobody to take its pages: it exits at once, wherever
    it is waiting (for room in the queue, or for the queue's thread to hand the last on)."""
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    os._exit(0)
