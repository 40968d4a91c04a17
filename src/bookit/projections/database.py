"""The read-model database: SQLite file by default, PostgreSQL at scale; and tracked positions.

A follower of the event store keeps its position in the same database, and moves it in the same
transaction as the rows it wrote, with a compare-and-set: a crash can neither skip an event nor
apply one twice, and two workers following at once cannot both apply the same batch.
"""

from __future__ import annotations

import functools
from importlib import import_module
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, create_engine, event, inspect, select, update

from bookit.projections.tables import metadata, positions

# Built once: these run several times per command, and building a statement costs more than
# running it.
# FOR UPDATE: on PostgreSQL a second worker waits for the first one's batch instead of applying
# the same events again and failing on their primary keys (SQLite serialises writers anyway).
_POSITION = select(positions.c.position).where(positions.c.name == bindparam("follower")).with_for_update()
# Loaded on first use, so a process on SQLite never loads the PostgreSQL dialect.
_DIALECTS = ("sqlite", "postgresql")
_ADVANCE = (
    update(positions)
    .where(positions.c.name == bindparam("follower"), positions.c.position == bindparam("old"))
    .values(position=bindparam("new"))
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    # One query for the tables and indexes that are there, rather than one per table: every
    # `bookit` command that reads opens this, so it counts in how fast the command line answers.
    with engine.connect() as conn:
        tables, indexes = _existing(conn)
    missing = [table for table in metadata.sorted_tables if table.name not in tables]
    if missing:
        metadata.create_all(engine, tables=missing)
    # A replay loads the tables without their secondary indexes (rebuild.py); one killed before
    # it put them back left them missing, and the first process to open the database restores them.
    absent = [
        index
        for table in metadata.sorted_tables
        if table.name in tables
        for index in table.indexes
        if index.name not in indexes
    ]
    if absent:
        with engine.begin() as conn:
            for index in absent:
                index.create(conn, checkfirst=True)
    return engine


def _existing(conn: Connection) -> tuple[set[str], set[str]]:
    """The names of the tables and of the indexes in the read-model database."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')")
        found: dict[str, set[str]] = {"table": set(), "index": set()}
        for kind, name in rows:
            found[kind].add(name)
        return found["table"], found["index"]
    named = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return set(inspect(conn).get_table_names()), set(named.scalars())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Debian's SQLite zeroes every deleted row on disk (SECURE_DELETE), so emptying the tables
    # for a replay wrote them all out again (a commit of 20-30 ms per 10 000 events). Nothing
    # here is secret from the event store, which keeps every event for good.
    cursor.execute("PRAGMA secure_delete=OFF")
    cursor.close()


def position_of(conn: Connection, name: str) -> int:
    """The follower's tracked position, locked for this transaction where the store can (0 at
    first: the row is made then)."""
    row = conn.execute(_POSITION, {"follower": name}).first()
    if row is None:
        # Two followers starting at once both find no row: the second one's insert keeps the
        # first's, and reads it again, waiting for the first one's transaction on PostgreSQL.
        conn.execute(insert_or_ignore(positions, conn.dialect.name), {"name": name, "position": 0})
        row = conn.execute(_POSITION, {"follower": name}).one()
    return int(row[0])


def advance(conn: Connection, name: str, old: int, new: int) -> bool:
    """Move the position from old to new; False if another follower moved it first."""
    return conn.execute(_ADVANCE, {"follower": name, "old": old, "new": new}).rowcount == 1


# Built once per table and dialect: building a statement costs more than running it.
@functools.cache
def insert_or_ignore(table: Table, dialect: str) -> Any:
    """An INSERT that keeps the row already there with the same key, in `dialect`."""
    return _dialect(dialect).insert(table).on_conflict_do_nothing()


@functools.cache
def upsert(table: Table, dialect: str, columns: tuple[str, ...]) -> Any:
    """An INSERT that, where the key is taken, overwrites `columns` of the row there instead."""
    statement = _dialect(dialect).insert(table)
    (key,) = table.primary_key.columns
    return statement.on_conflict_do_update(
        index_elements=[key], set_={name: statement.excluded[name] for name in columns}
    )


def _dialect(name: str) -> Any:
    if name not in _DIALECTS:
        raise NotImplementedError(f"the read models need SQLite or PostgreSQL, not {name}")
    return import_module(f"sqlalchemy.dialects.{name}")
