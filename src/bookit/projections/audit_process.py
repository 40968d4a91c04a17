"""A replay's audit rows, built in a second process while the first applies everything else.

An audit row is the most work a replay does per event (its data as JSON), and every event has
one; the rest of the read models need the same events decoded again. This machine has two
cores, so a replay forks a child that reads the log from the same position, decodes it and
builds the audit rows, and sends them back page by page. The parent still writes every row and
moves its position in one transaction per batch, exactly as without the child: the child only
computes, it never writes. Whatever the child sends that does not line up with the parent's
page (a child that failed, or saw the log end sooner than the parent did) is dropped, and the
parent builds those rows itself: the result is the same rows either way.

Forking is only done from a process with one thread (a fork copies no other thread, and the
locks they held); otherwise, and for stores another process cannot open (the in-memory one),
the parent builds every row as a live projector does.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory, Mapper, Notification

from bookit.projections import audit

Row = tuple[Any, ...]
_SHAREABLE = ("eventsourcing.sqlite", "eventsourcing.postgres")
_AHEAD = 4  # pages the child may have ready before the parent takes them
_POLL_S = 1.0  # how often a waiting parent checks that the child is still there


class AuditRows:
    """The audit rows of every event from `start`, built by a child process."""

    def __init__(self, app: Application[Any], start: int, page_size: int) -> None:
        self._pending: Iterator[Row] = iter(())
        self._process: Any = None
        env = dict(app.env)
        if env.get("PERSISTENCE_MODULE") not in _SHAREABLE or threading.active_count() > 1:
            return
        env["CREATE_TABLE"] = "no"  # the child only reads
        context = multiprocessing.get_context("fork")
        self._pages: Any = context.Queue(_AHEAD)
        self._process = context.Process(
            target=_build, args=(env, app.mapper, start, page_size, self._pages), daemon=True
        )
        self._process.start()

    def rows_for(self, page: Sequence[Notification]) -> list[Row] | None:
        """The rows of `page`'s events, in order; None if the child cannot give them all (the
        caller builds them itself, and from then on all the others)."""
        if self._process is None:
            return None
        rows = []
        for notification in page:
            row = self._next()
            while row is not None and row[0] < notification.id:
                row = self._next()  # the parent skipped these (they were applied elsewhere)
            if row is None or row[0] != notification.id:
                self.close()
                return None
            rows.append(row)
        return rows

    def _next(self) -> Row | None:
        for row in self._pending:
            return row
        while True:
            try:
                page = self._pages.get(timeout=_POLL_S)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                return None
            if page is None:
                return None
            self._pending = iter(page)
            for row in self._pending:
                return row

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._pages.close()
            self._process = None


def _build(env: dict[str, str], mapper: Mapper[Any], start: int, page_size: int, pages: Any) -> None:
    """The child: every event's audit row from `start` on, a page at a time, then None."""
    factory = InfrastructureFactory.construct(env)
    try:
        recorder = factory.application_recorder()
        position = start
        while page := recorder.select_notifications(start=position, limit=page_size):
            pages.put([audit.row(mapper.to_domain_event(n), n.id) for n in page])
            position = page[-1].id + 1
    finally:
        pages.put(None)
        factory.close()
