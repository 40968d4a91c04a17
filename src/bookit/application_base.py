"""What every use case of the application service stands on: the one entry point, loading
and saving.

`handle` runs a command once: a repeated `command_id` gets the first outcome back (the receipt
is saved in the same atomic `save` as the command's effects), and a save that lost to another
worker (optimistic concurrency) is decided again from fresh copies, a bounded number of times.
`handle_all` runs system commands (a tick's, the followers') as one group that saves once
(`unit_of_work.py`). Outside a group, the aggregates of the last commands are kept and brought
up to date instead of loaded again (`kept_copies.py`). The use cases
themselves are in `waitlist_use_cases.py` (the queue), `application.py` (venues, admins,
bookings) and `rules_use_cases.py` (venue rules).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from bookit import commands as c
from bookit.aggregates.admins import AdminRoster
from bookit.aggregates.base import Cause, project
from bookit.aggregates.booking import Booking
from bookit.aggregates.receipt import CommandReceipt
from bookit.aggregates.transcodings import register_value_objects
from bookit.aggregates.venue import Venue
from bookit.aggregates.venue_day import VenueDay
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.config import Rules
from bookit.errors import BadInput, BookitError, NotFound, Refused
from bookit.kept_copies import KeptCopies
from bookit.localtime import local_instant, parse_date
from bookit.observability import observe
from bookit.store_reads import stored_among
from bookit.unit_of_work import Group, Result

A = TypeVar("A", bound=Aggregate)
Outcome = dict[str, Any]
UseCase = Callable[[Any, Cause], Outcome]

MAX_ATTEMPTS = 5


class LostRace(Refused):
    def __init__(self, attempts: int) -> None:
        super().__init__(
            f"too busy: other commands kept changing the same booking or slot "
            f"({attempts} attempts); try again",
            "contention",
        )


class StaleCopy(Exception):
    """A use case noticed it decided on a copy that changed under it: decide again, as after a
    lost save."""


class ApplicationBase(Application[UUID]):
    name = "bookit"
    # Long-lived aggregates (a busy venue-day, a long queue) load from a recent snapshot.
    snapshotting_intervals = {VenueDay: 50, WaitlistSlot: 50, AdminRoster: 50}
    kept_copies = 512  # aggregates kept between commands (all threads together); 0: load each time

    def __init__(self, env: dict[str, str] | None = None, rules: Rules | None = None) -> None:
        super().__init__(env)
        self.rules = rules or Rules()
        self._use_cases: dict[type[c.Command], UseCase] = {}
        self._local = threading.local()  # the group this thread's command runs in, if any
        self._kept: KeptCopies | None = None  # made at the first command that may use it

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)

    # The one entry point

    def handle(self, command: c.Command, now: datetime, unseen: bool = False) -> Outcome:
        """Run a command once; a repeated command_id gets the first outcome back.

        `unseen`: the caller has just read that this command_id has no receipt (a batch asks
        for all of its commands in one query, `unhandled`), so the first attempt does not ask
        again. If another worker stores its receipt meanwhile, this attempt's save loses on
        that receipt and the next attempt reads it; a refusal is checked against it first."""
        use_case = self._use_cases.get(type(command))
        if use_case is None:
            raise BadInput(f"no handler for {type(command).__name__}", "unknown_command")
        cause = Cause(actor=command.actor, command_id=str(command.command_id), at=now)
        for attempt in range(MAX_ATTEMPTS):
            trusted = unseen and attempt == 0
            earlier = None if trusted else self.outcome_of(command.command_id)
            if earlier is not None:
                return earlier
            try:
                with self._lending():
                    return use_case(command, cause)
            except (IntegrityError, StaleCopy):
                continue  # someone saved first: reload and decide again
            except BookitError:
                earlier = self.outcome_of(command.command_id) if trusted else None
                if earlier is not None:
                    return earlier  # handled elsewhere since the batch looked: its outcome
                raise
        raise LostRace(MAX_ATTEMPTS)

    @contextmanager
    def _lending(self) -> Iterator[None]:
        """While a use case runs outside a group: its loads may come from the kept copies, and
        if it ends well, what it loaded and saved is kept (`kept_copies.py`)."""
        if getattr(self._local, "group", None) is not None or self.kept_copies <= 0:
            yield
            return
        if self._kept is None or self._kept.size != self.kept_copies:
            self._kept = KeptCopies(self.kept_copies)
        kept, outer, lent = self._kept, self._lent(), list[Aggregate]()
        self._local.lent = lent
        try:
            yield
            kept.give_back(a for a in lent if not isinstance(a, CommandReceipt))
        finally:
            self._local.lent = outer

    def unhandled(self, command_ids: Iterable[str]) -> set[str]:
        """Which of these command_ids have no receipt in the store, in one query."""
        wanted = {CommandReceipt.id_for(cid): cid for cid in command_ids}
        return set(wanted.values()) - {wanted[found] for found in stored_among(self, wanted)}

    def handle_all(self, commands: Sequence[c.Command], now: datetime) -> list[Result]:
        """Run system commands at `now`, their effects stored together (`unit_of_work.py`):
        each one's outcome, or the error it was turned down with, in order."""
        group = Group(self)
        group.read_ahead(commands)
        for command in commands:
            group.run(command, now)
        return group.save()

    @contextmanager
    def grouped(self, group: Group) -> Iterator[None]:
        """While a command of `group` runs: its loads and its save go through the group."""
        self._local.group = group
        try:
            yield
        finally:
            self._local.group = None

    def outcome_of(self, command_id: UUID | str) -> Outcome | None:
        try:
            receipt = self._load(CommandReceipt.id_for(command_id), snapshotted=False)
        except AggregateNotFoundError:
            return None
        assert isinstance(receipt, CommandReceipt)
        return receipt.outcome

    def is_admin(self, email: str) -> bool:
        roster = self._maybe(AdminRoster, AdminRoster.ID)
        return roster is not None and roster.is_admin(email)

    def _exempt(self, venue: Venue, cause: Cause) -> bool:
        """Admins book over buffers and outside quotas (asked only when the venue has either)."""
        rules = venue.rules
        return bool(rules.buffer_minutes or rules.quotas) and self.is_admin(cause.actor)

    def _settled_without_effect(
        self, cmd: c.Command, cause: Cause, refusal: Refused, *unchanged: Aggregate
    ) -> Outcome:
        if refusal.code == "not_due":
            raise refusal  # too early: no receipt, so the timer stays and a later tick retries
        return self._commit(cmd, cause, {"skipped": refusal.message}, *unchanged)

    # Loading and saving

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, without its two runtime Protocol checks per object (they cost
        more than collecting the events): what BookIT saves is aggregates."""
        if kwargs or not all(isinstance(obj, Aggregate) for obj in objs):
            with observe.saving() as stored:
                recordings = super().save(*objs, **kwargs)
                stored(len(recordings))
                return recordings
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        with observe.saving() as stored:
            recordings = self._record(processing)
            stored(len(recordings))
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's save calls this deprecated hook too
        return recordings

    # For the use cases beside this class (rules_use_cases.py)

    def commit(self, cmd: c.Command, cause: Cause, outcome: Outcome, *changed: Aggregate) -> Outcome:
        """Save what a use case changed and the command's receipt, in one atomic save."""
        return self._commit(cmd, cause, outcome, *changed)

    def venue(self, venue_id: str) -> Venue:
        return self._venue(venue_id)

    def maybe(self, cls: type[A], ident: UUID) -> A | None:
        return self._maybe(cls, ident)

    def settled_without_effect(
        self, cmd: c.Command, cause: Cause, refusal: Refused, *unchanged: Aggregate
    ) -> Outcome:
        return self._settled_without_effect(cmd, cause, refusal, *unchanged)

    def booking(self, booking_id: UUID) -> Booking:
        return self._booking(booking_id)

    def _commit(self, cmd: c.Command, cause: Cause, outcome: Outcome, *changed: Aggregate) -> Outcome:
        receipt = CommandReceipt.handled(type(cmd).__name__, outcome, cause)
        group: Group | None = getattr(self._local, "group", None)
        if group is None:
            self.save(*changed, receipt)
            lent = self._lent()
            if lent is not None:
                lent.extend(changed)  # stored as they are now: kept if the command ends well
        else:
            group.keep([*changed, receipt])
        return outcome

    def _get(self, cls: type[A], ident: UUID, what: str) -> A:
        aggregate = self._maybe(cls, ident)
        if aggregate is None:
            raise NotFound(what, ident)
        return aggregate

    def _maybe(self, cls: type[A], ident: UUID) -> A | None:
        snapshotted = any(issubclass(cls, kind) for kind in self.snapshotting_intervals)
        try:
            aggregate = self._load(ident, snapshotted)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            return None
        return aggregate

    def _load(self, ident: UUID, snapshotted: bool) -> Aggregate:
        """The aggregate as stored; without asking for a snapshot of a kind that has none (one
        query instead of two)."""
        group: Group | None = getattr(self._local, "group", None)
        if group is not None:
            group.check(ident)  # changed in the group and not saved yet: it decides after the save
        lent = self._lent() if group is None else None
        copy = self._kept.lend(ident) if lent is not None and self._kept is not None else None
        if copy is not None:
            aggregate = project(copy, self.events.get(ident, gt=copy.version))  # what is newer
        elif snapshotted:
            aggregate = self.repository.get(ident, projector_func=project)
        else:
            read = group.read(ident) if group is not None else None
            events = self.events.get(ident) if read is None else map(self.mapper.to_domain_event, read)
            aggregate = project(None, events)
            if aggregate is None:
                raise AggregateNotFoundError(ident)
        if lent is not None:
            lent.append(aggregate)
        return aggregate

    def _lent(self) -> list[Aggregate] | None:
        """What this thread's running command has loaded and saved, if it may use kept copies."""
        lent: list[Aggregate] | None = getattr(self._local, "lent", None)
        return lent

    def _booking(self, booking_id: UUID) -> Booking:
        return self._get(Booking, booking_id, "booking")

    def _venue(self, venue_id: str) -> Venue:
        venue = self._maybe(Venue, Venue.id_for(venue_id))
        if venue is None:
            raise NotFound("venue", venue_id)
        return venue

    def _venue_day(self, venue_id: str, date: str, cause: Cause) -> VenueDay:
        return self._maybe(VenueDay, VenueDay.id_for(venue_id, date)) or VenueDay.open(venue_id, date, cause)

    def _instants(
        self, venue: Venue, date: str, start: str, end: str, cause: Cause
    ) -> tuple[datetime, datetime]:
        day = parse_date(date)
        starts_at = local_instant(day, start, venue.tz)
        ends_at = local_instant(day, end, venue.tz)
        if ends_at <= starts_at:
            raise BadInput(f"end {end} is not after start {start}", "end_before_start")
        if starts_at <= cause.at:
            raise BadInput(f"{date} {start} in {venue.tz} is in the past", "in_the_past")
        return starts_at, ends_at


def booking_outcome(booking: Booking) -> Outcome:
    return {"booking_id": str(booking.id), "status": booking.status}
