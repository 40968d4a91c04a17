"""`replay`: drop the read models and rebuild them from the store; `--verify` proves that a
rebuild from scratch gives exactly the rows the live tables hold."""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from sqlalchemy import Engine, delete, select, update

from bookit.projections.audit_process import AuditRows
from bookit.projections.database import make_engine
from bookit.projections.projector import Projector
from bookit.projections.tables import PROJECTED, positions

REBUILD_BATCH = 2000


def rebuild(app: Application[Any], engine: Engine, progress: Callable[[int], None] | None = None) -> int:
    with engine.begin() as conn:
        for table in reversed(PROJECTED):
            conn.execute(delete(table))
        conn.execute(update(positions).where(positions.c.name == Projector.name).values(position=0))
    return _load(app, engine, progress)


def _load(app: Application[Any], engine: Engine, progress: Callable[[int], None] | None) -> int:
    """Fill the emptied read models from the whole store, the fastest way we know.

    - Large batches: a rebuild is one long catch-up, and each batch costs a commit.
    - The secondary indexes are dropped first and built once at the end, from all the rows:
      keeping them up to date row by row costs a quarter of a replay. The projector never reads
      by them. A replay killed before it put them back leaves `make_engine` to do it.
    - The audit trail's rows are built in a second process (audit_process.py).
    - No cyclic garbage collection while loading: the events and rows it makes are freed by
      reference counting, and a full collection walks every object the process holds.
    """
    indexes = [index for table in PROJECTED for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn, checkfirst=True)
    collecting = gc.isenabled()
    gc.disable()
    audit_rows = AuditRows(app, start=1, page_size=REBUILD_BATCH)
    try:
        projector = Projector(app, engine, batch_size=REBUILD_BATCH, from_empty=True, audit_rows=audit_rows)
        return projector.catch_up(progress)
    finally:
        audit_rows.close()
        if collecting:
            gc.enable()
        with engine.begin() as conn:
            for index in indexes:
                index.create(conn, checkfirst=True)


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
