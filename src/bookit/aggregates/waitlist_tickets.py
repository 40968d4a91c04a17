"""What a waitlist entry is counted against and where it lives: the per-day allowance and the
ticket that leads from an entry id to its queue (kept apart from the queue, `waitlist.py`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id
from bookit.errors import Refused


class WaitlistAllowance(DomainAggregate):
    """How many waitlist entries one user holds for one date, to enforce the daily limit.

    It only remembers which entries it counted; whether each is still active is asked of its
    slot when the limit is checked, so leaving, claiming or expiring needs no bookkeeping here.
    """

    TOPIC = "bookit.WaitlistAllowance"

    class Created(DomainAggregate.Created):
        TOPIC = "allowance.created"

    class Opened(Created):
        TOPIC = "allowance.opened"
        user: str
        date: str

    class EntryCounted(DomainAggregate.Event):
        TOPIC = "allowance.entry_counted"
        entry_id: str
        slot_id: str

        def apply(self, allowance: WaitlistAllowance) -> None:
            allowance.counted[self.entry_id] = self.slot_id

    def __init__(self, user: str, date: str, **_: Any) -> None:
        self.user = user
        self.date = date
        self.counted: dict[str, str] = {}

    @staticmethod
    def id_for(user: str, date: str) -> UUID:
        return derived_id("waitlist-allowance", user, date)

    @classmethod
    def open(cls, user: str, date: str, cause: Cause) -> WaitlistAllowance:
        return cls._start(cls.Opened, cls.id_for(user, date), cause, user=user, date=date)

    def count(self, entry_id: UUID, slot_id: UUID, active_now: int, limit: int, cause: Cause) -> None:
        if active_now >= limit:
            raise Refused(
                f"at most {limit} active waitlist entries per day (you have {active_now} on {self.date})",
                "waitlist_limit",
            )
        self._record(self.EntryCounted, cause, entry_id=str(entry_id), slot_id=str(slot_id))


class WaitlistTicket(DomainAggregate):
    """What an entry id points at. Entry ids are handed to people (CLI, emails, links), and
    commands about an entry must find its queue without a read model that might lag."""

    TOPIC = "bookit.WaitlistTicket"

    class Created(DomainAggregate.Created):
        TOPIC = "ticket.created"

    class Issued(Created):
        TOPIC = "ticket.issued"
        slot_id: str
        user: str

    def __init__(self, slot_id: str, user: str, **_: Any) -> None:
        self.slot_id = slot_id
        self.user = user

    @classmethod
    def issue(cls, entry_id: UUID, slot_id: UUID, user: str, cause: Cause) -> WaitlistTicket:
        return cls._start(cls.Issued, entry_id, cause, slot_id=str(slot_id), user=user)
