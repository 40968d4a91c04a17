"""The rows one batch of events changes, gathered in memory and written in a few statements.

Running one statement per event is what made projecting slow: SQLAlchemy spends far longer
building and caching a statement than SQLite spends running it. So the handlers record what a
batch changes here, and `flush` writes it with one `executemany` per statement shape.

The tables ends up exactly as if every event had been applied by itself, in order, because:
- a change to a row inserted earlier in the same batch is folded into that row before it is
  written, so every UPDATE left over is about a row that existed before the batch;
- every update sets fixed values (nothing like `x = x + 1`), so the updates of one row merge
  into one, later values winning;
- due timers are only inserted if absent and deleted, so deleting (what existed before) and
  then inserting (what is still pending) gives the same rows as the original order.
Each handler module writes only its own tables, so batching one table never reorders another.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from bookit.projections.database import insert_or_ignore
from bookit.projections.tables import (
    admins,
    audit,
    bookings,
    check_ins,
    due_timers,
    strikes,
    venue_rules,
    venues,
    waitlist_entries,
    waitlist_slots,
)

Row = dict[str, Any]


class Rows:
    """Pending inserts and updates to one table, by primary key (a single column)."""

    def __init__(self, table: Table) -> None:
        (key,) = table.primary_key.columns
        self.table = table
        self.key = key.name
        self.inserted: dict[Any, Row] = {}
        self.updated: dict[Any, Row] = {}

    def insert(self, row: Row) -> None:
        self.inserted[row[self.key]] = row

    def update(self, key: Any, **values: Any) -> None:
        row = self.inserted.get(key)
        if row is not None:
            row.update(values)
        else:
            self.updated.setdefault(key, {}).update(values)

    def get(self, key: Any) -> Row | None:
        """A row inserted in this batch (rows from earlier batches are in the database)."""
        return self.inserted.get(key)

    def flush(self, conn: Connection) -> None:
        if self.inserted:
            executemany(conn, _insert(self.table), list(self.inserted.values()))
        by_columns: dict[tuple[str, ...], list[Row]] = {}
        for key, values in self.updated.items():
            by_columns.setdefault(tuple(sorted(values)), []).append({**values, "_key": key})
        for columns, rows in by_columns.items():
            executemany(conn, _update(self.table, self.key, columns), rows)
        self.inserted, self.updated = {}, {}


class Appended:
    """Rows that are only ever inserted (the audit trail), as tuples in the table's column order:
    one for every stored event, so they skip the dict that `Rows` would build and pick apart."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns = tuple(column.name for column in table.columns)
        self.rows: list[tuple[Any, ...]] = []

    def flush(self, conn: Connection) -> None:
        statement = _insert(self.table)
        if not self.rows:
            return
        if _positions(statement, conn.dialect) == self.columns:  # SQLite: the tuples as they are
            conn.exec_driver_sql(_compiled(statement, conn.dialect)[0], self.rows)
        else:  # PostgreSQL's driver takes named parameters
            executemany(conn, statement, [dict(zip(self.columns, row, strict=True)) for row in self.rows])
        self.rows = []


def executemany(conn: Connection, statement: Any, rows: list[Row]) -> None:
    """Run `statement` once per row, straight through the driver's executemany.

    SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself. Skipping it
    is safe here: the read models hold only text, integers and booleans, which both drivers
    store exactly as SQLAlchemy would.
    """
    sql, values = _compiled(statement, conn.dialect)
    if values is None:
        conn.exec_driver_sql(sql, rows)
    else:
        conn.exec_driver_sql(sql, list(map(values, rows)))


@functools.cache
def _compiled(statement: Any, dialect: Any) -> tuple[str, Callable[[Row], tuple[Any, ...]] | None]:
    """The statement's SQL for this dialect, and if its parameters are positional, what picks
    them out of a row in order."""
    compiled = statement.compile(dialect=dialect)
    if not compiled.positional:
        return compiled.string, None
    names = tuple(compiled.positiontup)
    if len(names) == 1:
        (name,) = names
        return compiled.string, lambda row: (row[name],)
    return compiled.string, operator.itemgetter(*names)


@functools.cache
def _positions(statement: Any, dialect: Any) -> tuple[str, ...] | None:
    """The order of the statement's parameters, if the dialect's are positional."""
    compiled = statement.compile(dialect=dialect)
    return tuple(compiled.positiontup) if compiled.positional else None


# Built once per table and set of columns: building a statement costs more than running it.
@functools.cache
def _insert(table: Table) -> Any:
    return insert(table)


@functools.cache
def _update(table: Table, key: str, columns: tuple[str, ...]) -> Any:
    return (
        update(table)
        .where(table.c[key] == bindparam("_key"))
        .values({name: bindparam(name) for name in columns})
    )


_DROP_TIMER = delete(due_timers).where(due_timers.c.timer_key == bindparam("key"))
_DROP_TIMER_OF_COMMAND = delete(due_timers).where(due_timers.c.command_id == bindparam("command"))


class KnownTimers:
    """Every due timer in the table, for a follower that filled it from empty (a rebuild): a
    drop of a timer not among them would delete nothing, so it is not sent to the database.

    Only right while that follower is the table's one writer; a rebuild that finds another
    worker applied a step stands down, and its knowledge goes with it.
    """

    def __init__(self) -> None:
        self.by_key: dict[str, str] = {}  # timer_key -> command_id
        self.by_command: dict[str, str] = {}  # command_id -> timer_key

    def forget(self, key: str | None) -> None:
        if key is not None and key in self.by_key:
            del self.by_command[self.by_key.pop(key)]

    def learn(self, row: Row) -> None:
        key, command = row["timer_key"], row["command_id"]
        if key not in self.by_key and command not in self.by_command:  # else the insert is ignored
            self.by_key[key], self.by_command[command] = command, key


class Timers:
    """Pending changes to the due timers: added if absent, dropped by key or by command."""

    def __init__(self, known: KnownTimers | None = None) -> None:
        self.known = known
        self.added: dict[str, Row] = {}
        self.of_command: dict[str, str] = {}  # command_id -> timer_key, of the added ones
        self.dropped: list[dict[str, str]] = []
        self.dropped_by_command: list[dict[str, str]] = []

    def add(self, row: Row) -> None:
        if row["timer_key"] not in self.added:
            self.added[row["timer_key"]] = row
            self.of_command[row["command_id"]] = row["timer_key"]

    def drop(self, key: str) -> None:
        row = self.added.pop(key, None)
        if row is not None:
            del self.of_command[row["command_id"]]
        if self.known is None or key in self.known.by_key:
            self.dropped.append({"key": key})  # it may also have been there before the batch

    def drop_of_command(self, command_id: str) -> None:
        key = self.of_command.pop(command_id, None)
        if key is not None:
            del self.added[key]
        if self.known is None or command_id in self.known.by_command:
            self.dropped_by_command.append({"command": command_id})

    def flush(self, conn: Connection) -> None:
        if self.dropped:
            executemany(conn, _DROP_TIMER, self.dropped)
        if self.dropped_by_command:
            executemany(conn, _DROP_TIMER_OF_COMMAND, self.dropped_by_command)
        if self.added:
            # A timer is added unless one with its key is there already.
            executemany(conn, insert_or_ignore(due_timers, conn.dialect.name), list(self.added.values()))
        if self.known is not None:
            for dropped in self.dropped:
                self.known.forget(dropped["key"])
            for dropped in self.dropped_by_command:
                self.known.forget(self.known.by_command.get(dropped["command"]))
            for row in self.added.values():
                self.known.learn(row)
        self.added, self.of_command, self.dropped, self.dropped_by_command = {}, {}, [], []


_SLOT = select(waitlist_slots).where(waitlist_slots.c.slot_id == bindparam("slot_id"))


class Batch:
    """Everything one batch of events changes in the read models, written by `flush`."""

    def __init__(
        self,
        conn: Connection | None,
        known_timers: KnownTimers | None = None,
        slots: Callable[[str], Mapping[Any, Any]] | None = None,
    ) -> None:
        """`conn`: where `flush` writes, and earlier batches' slots are read; None for a batch
        built in another process (a replay's: rebuild_process.py), which reads them by `slots`."""
        self.conn = conn
        self._slots = slots
        self.venues = Rows(venues)
        self.venue_rules = Rows(venue_rules)
        self.admins = Rows(admins)
        self.bookings = Rows(bookings)
        self.check_ins = Rows(check_ins)
        self.strikes = Rows(strikes)
        self.waitlist_slots = Rows(waitlist_slots)
        self.waitlist_entries = Rows(waitlist_entries)
        self.due_timers = Timers(known_timers)
        self.audit = Appended(audit)

    def slot(self, slot_id: str) -> Mapping[Any, Any]:
        """A waitlist slot's row, opened in this batch or before it."""
        row = self.waitlist_slots.get(slot_id)
        if row is not None:
            return row
        if self._slots is not None:
            return self._slots(slot_id)
        assert self.conn is not None
        return self.conn.execute(_SLOT, {"slot_id": slot_id}).one()._mapping

    def _tables(self) -> tuple[Rows, ...]:
        return (
            self.venues,
            self.venue_rules,
            self.admins,
            self.bookings,
            self.check_ins,
            self.strikes,
            self.waitlist_slots,
            self.waitlist_entries,
        )

    def pending(self) -> Pending:
        """What `flush` would write, as plain data another process can be sent."""
        timers = self.due_timers
        return Pending(
            [(rows.inserted, rows.updated) for rows in self._tables()],
            (timers.added, timers.dropped, timers.dropped_by_command),
            self.audit.rows,
        )

    @classmethod
    def resumed(cls, conn: Connection, known_timers: KnownTimers | None, pending: Pending) -> Batch:
        """A batch holding what another process's batch gathered, ready to `flush` here."""
        batch = cls(conn, known_timers)
        for rows, (inserted, updated) in zip(batch._tables(), pending.tables, strict=True):
            rows.inserted, rows.updated = inserted, updated
        timers = batch.due_timers
        timers.added, timers.dropped, timers.dropped_by_command = pending.timers
        batch.audit.rows = pending.audit
        return batch

    def flush(self) -> None:
        assert self.conn is not None
        for rows in self._tables():
            rows.flush(self.conn)
        self.due_timers.flush(self.conn)
        self.audit.flush(self.conn)


@dataclass
class Pending:
    """A batch's changes as plain data (`Batch.pending`)."""

    tables: list[tuple[dict[Any, Row], dict[Any, Row]]]
    timers: tuple[dict[str, Row], list[dict[str, str]], list[dict[str, str]]]
    audit: list[tuple[Any, ...]]
