"""`replay`: drop the read models and rebuild them from the store; `--verify` proves that a
rebuild from scratch gives exactly the rows the live tables hold."""

from __future__ import annotations

import functools
import gc
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import Engine, delete, select, update

from bookit.projections.database import make_engine
from bookit.projections.projector import Projector
from bookit.projections.rebuild_process import ChildPages, page_range, pages
from bookit.projections.tables import PROJECTED, positions

REBUILD_BATCH = 1000


def rebuild(app: Application[Any], engine: Engine, progress: Callable[[int], None] | None = None) -> int:
    with engine.begin() as conn:
        for table in reversed(PROJECTED):
            conn.execute(delete(table))
        conn.execute(update(positions).where(positions.c.name == Projector.name).values(position=0))
    return _load(app, engine, progress)


def _load(app: Application[Any], engine: Engine, progress: Callable[[int], None] | None) -> int:
    """Fill the emptied read models from the whole store, the fastest way we know.

    - Large batches: a rebuild is one long catch-up, and each batch costs a commit.
    - Two cores: a child process gathers two pages in three (rebuild_process.py).
    - The secondary indexes are dropped first and built once at the end, from all the rows:
      keeping them up to date row by row costs a quarter of a replay. The projector never reads
      by them. A replay killed before it put them back leaves `make_engine` to do it.
    - No cyclic garbage collection while loading: the events and rows it makes are freed by
      reference counting, and a full collection walks every object the process holds.
    """
    indexes = [index for table in PROJECTED for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn, checkfirst=True)
    collecting = gc.isenabled()
    gc.disable()
    try:
        projector = Projector(app, engine, batch_size=REBUILD_BATCH, from_empty=True)
        applied, whole = _by_pages(projector, progress)
        # Then what was stored since it began; unless another worker applied a page first, and
        # the rebuild stands down (its known timers would no longer be all there are).
        return applied + projector.catch_up(progress) if whole else applied
    finally:
        if collecting:
            gc.enable()
        with engine.begin() as conn:
            for index in indexes:
                index.create(conn, checkfirst=True)


def _by_pages(projector: Projector, progress: Callable[[int], None] | None) -> tuple[int, bool]:
    """The log as it ends now, page by page, most gathered by a child process: how many events
    were applied, and whether all were (False: another worker applied a page first)."""
    app, size = projector.app, REBUILD_BATCH
    end = app.recorder.max_notification_id() or 0
    child = ChildPages(app, end, size)
    applied = 0
    try:
        for k in range(pages(size, end)):
            got = child.take(k) if child.has(k) else None
            if got is not None:
                ids, pending = got
                step = functools.partial(projector.apply_pending, pending=pending)
            else:
                first, last = page_range(k, size, end)
                page = app.recorder.select_notifications(start=first, stop=last, limit=size)
                ids = [n.id for n in page]
                events = [(n.id, app.mapper.to_domain_event(n)) for n in page]
                step = functools.partial(projector.apply_all, events=events)
            if not ids:
                continue  # a gap in the ids as wide as a page
            if not projector.step_to(ids[-1], step):
                return applied, False  # another worker applied these first
            applied += len(ids)
            if progress is not None:
                progress(len(ids))
    finally:
        child.close()
    return applied, True


@dataclass
class Difference:
    table: str
    live_only: int
    rebuilt_only: int


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected row, in primary-key order, as plain tuples."""
    out = {}
    with engine.connect() as conn:
        for table in PROJECTED:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(row) for row in rows]
    return out


def verify(
    app: Application[Any], live: Engine, progress: Callable[[int], None] | None = None
) -> list[Difference]:
    """Rebuild into a scratch database and compare with the live tables, table by table."""
    Projector(app, live).catch_up()
    with tempfile.TemporaryDirectory() as scratch:
        fresh = make_engine(f"sqlite:///{Path(scratch) / 'verify.sqlite'}")
        _load(app, fresh, progress)
        expected, actual = dump(fresh), dump(live)
        fresh.dispose()
    differences = []
    for name in expected:
        rebuilt, current = set(expected[name]), set(actual[name])
        if rebuilt != current or len(expected[name]) != len(actual[name]):
            differences.append(Difference(name, len(current - rebuilt), len(rebuilt - current)))
    return differences
