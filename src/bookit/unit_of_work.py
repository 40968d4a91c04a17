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

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from bookit import commands as c
from bookit.aggregates.receipt import CommandReceipt
from bookit.errors import BookitError
from bookit.store_reads import events_of

if TYPE_CHECKING:
    from bookit.application_base import ApplicationBase

Result = dict[str, Any] | BookitError
"""A command's outcome, or the error it was turned down with."""

MOST_PENDING = 200  # commands a group holds before it saves: bounds one save and its memory


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
        # Read ahead in one query (`read_ahead`), each used once: stored events, and ids that
        # had none. Only a hint: a copy another writer has changed since is caught by the save.
        self._read: dict[UUID, list[StoredEvent]] = {}
        self._absent: set[UUID] = set()

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

    def read_ahead(self, commands: Iterable[c.Command]) -> None:
        """Read the receipts of these commands and the bookings they name, in one query, where
        `handle` would ask for each. A copy that another writer changes meanwhile can only make
        a command decide on it and change it, and then the group's save fails on it and the
        commands run again one at a time on fresh copies (a receipt saved meanwhile, too)."""
        wanted = {CommandReceipt.id_for(command.command_id) for command in commands}
        wanted |= {ident for command in commands if (ident := getattr(command, "booking_id", None))}
        self._read |= events_of(self.app, wanted)
        self._absent |= wanted - self._read.keys()

    # What `ApplicationBase` asks while a command of the group runs

    def check(self, ident: UUID) -> None:
        """About to read or change `ident`: not if the group holds it unsaved."""
        if ident in self._changed:
            raise Pending()

    def read(self, ident: UUID) -> list[StoredEvent] | None:
        """What `read_ahead` found of `ident` ([] for nothing stored), or None if it did not
        look; once: a second read of it asks the store."""
        if ident in self._absent:
            self._absent.discard(ident)
            return []
        return self._read.pop(ident, None)

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

    def _save_pending(self) -> None:
        aggregates, ran = list(self._changed.values()), self._ran
        self._changed, self._ran = {}, []
        if not aggregates:
            return
        for aggregate in aggregates:
            self._read.pop(aggregate.id, None)
            self._absent.discard(aggregate.id)
        try:
            self.app.save(*aggregates)
        except IntegrityError:
            # Another writer saved one of these first: none of ours is stored. Each command
            # again on its own, deciding on fresh copies, as it would have run without a group.
            self._read, self._absent = {}, set()  # that writer may be running the same commands
            first = len(self._results) - len(ran)
            for offset, (command, now) in enumerate(ran):
                try:
                    self._results[first + offset] = self.app.handle(command, now)
                except BookitError as error:
                    self._results[first + offset] = error
