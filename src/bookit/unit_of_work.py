"""Several system commands, one atomic save: how a tick's due work and the followers'
follow-up commands are stored.

Each command still runs through `handle` and decides on fresh state. What it changes is kept
pending in the group instead of being saved at once; the group saves everything pending, every
command's receipt included, in one `save(...)` (atomic across aggregates). A command that reads
or changes an aggregate an earlier command of the group has changed and not yet saved would
decide on a stale copy: the group saves what it holds first and the command decides again. So
no aggregate is pending twice and the events go to the store in the order the commands ran,
as if each had been saved on its own. A command that is refused adds nothing.

If the group's save loses to another writer (the store's optimistic concurrency), nothing of
it is stored, and its commands are run again one at a time, each with its own save, as they
would have been without the group: every command's effect lands once (its receipt sees to it).

Only for commands nobody waits on one by one (the clock's, the followers'): a user's command
keeps its own save, so one user's refusal or lost race never reaches another's reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from bookit import commands as c
from bookit.aggregates.receipt import CommandReceipt
from bookit.errors import BookitError

if TYPE_CHECKING:
    from bookit.application_base import ApplicationBase

Result = dict[str, Any] | BookitError
"""A command's outcome, or the error it was turned down with."""

MOST_PENDING = 200  # commands a group holds before it saves: bounds one save and its memory
_ID_CHUNK = 500  # ids per look-up query (SQLite allows 32 766 parameters; any chunk is fine)


class Pending(Exception):
    """The command touched what its group has changed and not yet saved: save, then decide
    again. Never leaves `handle`'s caller, the group."""


class Group:
    """A unit of work: see the module's docstring. Use `ApplicationBase.handle_all`, or `run`
    each command and then `save` (which returns every command's result, in order)."""

    def __init__(self, app: ApplicationBase) -> None:
        self.app = app
        self._changed: dict[UUID, Aggregate] = {}  # pending, in the order they were changed
        self._ran: list[tuple[c.Command, datetime]] = []  # since the last save
        self._results: list[Result] = []  # of every command run, saved or pending
        self._no_receipt: set[UUID] = set()  # receipt ids known not to be stored

    def run(self, command: c.Command, now: datetime) -> None:
        """Decide `command` at `now`; its effects stay pending until `save`."""
        if len(self._ran) >= MOST_PENDING:
            self._save_pending()
        while True:
            try:
                with self.app.grouped(self):
                    result: Result = self.app.handle(command, now)
            except Pending:
                self._save_pending()  # then it decides again, on what is now stored
                continue
            except BookitError as error:
                result = error
            except BaseException:
                self._save_pending()  # what ran before it is kept, as without a group
                raise
            self._ran.append((command, now))
            self._results.append(result)
            return

    def save(self) -> list[Result]:
        """Store everything pending; the results of every command run, in order."""
        self._save_pending()
        return list(self._results)

    def expect_new(self, commands: Iterable[c.Command]) -> None:
        """Ask the store once which of these commands already have a receipt, so that `handle`
        need not ask for each (a command whose receipt appears meanwhile, saved by another
        worker, makes the group's save fail, and the one-at-a-time rerun finds the receipt)."""
        wanted = {CommandReceipt.id_for(command.command_id) for command in commands}
        self._no_receipt |= wanted - stored_among(self.app, wanted)

    # What `ApplicationBase` asks while a command of the group runs

    def check(self, ident: UUID) -> None:
        """About to read or change `ident`: not if the group holds it unsaved."""
        if ident in self._changed:
            raise Pending()

    def has_no_receipt(self, receipt_id: UUID) -> bool:
        return receipt_id in self._no_receipt

    def keep(self, aggregates: Sequence[Aggregate]) -> None:
        """Hold a command's changed aggregates (its receipt last) until the group saves."""
        changed: dict[UUID, Aggregate] = {}
        for aggregate in aggregates:
            if not aggregate.pending_events:
                continue
            self.check(aggregate.id)
            if changed.setdefault(aggregate.id, aggregate) is not aggregate:
                raise IntegrityError(f"two copies of {aggregate.id} changed by one command")
        self._changed |= changed
        self._no_receipt -= changed.keys()

    def _save_pending(self) -> None:
        aggregates, ran = list(self._changed.values()), self._ran
        self._changed, self._ran = {}, []
        if not aggregates:
            return
        try:
            self.app.save(*aggregates)
        except IntegrityError:
            # Another writer saved one of these first: none of ours is stored. Each command
            # again on its own, deciding on fresh copies, as it would have run without a group.
            self._no_receipt.clear()  # that writer may be running the same commands
            first = len(self._results) - len(ran)
            for offset, (command, now) in enumerate(ran):
                try:
                    self._results[first + offset] = self.app.handle(command, now)
                except BookitError as error:
                    self._results[first + offset] = error


def stored_among(app: Application[Any], ids: set[UUID]) -> set[UUID]:
    """Which of `ids` name something in the event store: one query per few hundred ids."""
    recorder: Any = app.recorder
    kind = type(recorder).__module__
    found: set[UUID] = set()
    chunks = _chunks(sorted(ids), _ID_CHUNK)
    if kind.startswith("eventsourcing.sqlite"):
        table = recorder.events_table_name
        for chunk in chunks:
            marks = ",".join("?" * len(chunk))
            statement = f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id IN ({marks})"
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, [ident.hex for ident in chunk])
                found |= {UUID(row[0]) for row in cursor.fetchall()}
    elif kind.startswith("eventsourcing.postgres"):
        from psycopg.sql import SQL, Identifier

        query = SQL("SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)").format(
            Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
        )
        as_text = recorder.datastore.originator_id_type == "text"
        for chunk in chunks:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(query, [[str(i) for i in chunk] if as_text else chunk])
                found |= {UUID(str(row["originator_id"])) for row in cursor.fetchall()}
    else:  # any other recorder (the in-memory one of unit tests): one question per id
        found = {ident for ident in ids if recorder.select_events(ident, limit=1)}
    return found


def _chunks(items: list[UUID], size: int) -> list[list[UUID]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
