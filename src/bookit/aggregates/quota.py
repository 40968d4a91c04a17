"""How much one user has booked at one venue in one period (DESIGN rule 13), to enforce quotas.

One small aggregate per (user, venue, period), like the waitlist allowance: every booking that
counts against a quota is counted here in the same atomic save as the booking, so two workers
booking for the same person at once both load version N and one of them is turned away and
decides again on the new count. A cancelled booking is uncounted in the save that cancels it.
Periods are the booking's local date's day, ISO week (Monday first) or month, in the venue's
zone; the quotas themselves are the venue's rules in force when each booking is made.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id
from bookit.aggregates.venue_rules import Quota
from bookit.errors import Refused


def period_key(period: str, local_date: str) -> str:
    """The period a local date falls in: "2026-12-05", "2026-W49" or "2026-12"."""
    day = Date.fromisoformat(local_date)
    if period == "day":
        return local_date
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return local_date[:7]
    raise ValueError(f"unknown quota period {period!r}")


class QuotaCounter(DomainAggregate):
    TOPIC = "bookit.QuotaCounter"

    class Created(DomainAggregate.Created):
        TOPIC = "quota.created"

    class Opened(Created):
        TOPIC = "quota.opened"
        user: str
        venue_id: str
        period: str
        key: str

    class Counted(DomainAggregate.Event):
        TOPIC = "quota.counted"
        booking_id: str
        minutes: int

        def apply(self, counter: QuotaCounter) -> None:
            counter.counted[self.booking_id] = self.minutes

    class Uncounted(DomainAggregate.Event):
        TOPIC = "quota.uncounted"
        booking_id: str

        def apply(self, counter: QuotaCounter) -> None:
            del counter.counted[self.booking_id]

    def __init__(self, user: str, venue_id: str, period: str, key: str, **_: Any) -> None:
        self.user = user
        self.venue_id = venue_id
        self.period = period
        self.key = key
        self.counted: dict[str, int] = {}

    @staticmethod
    def id_for(user: str, venue_id: str, period: str, local_date: str) -> UUID:
        return derived_id("quota", user, venue_id, period, period_key(period, local_date))

    @classmethod
    def open(cls, user: str, venue_id: str, period: str, local_date: str, cause: Cause) -> QuotaCounter:
        return cls._start(
            cls.Opened,
            cls.id_for(user, venue_id, period, local_date),
            cause,
            user=user,
            venue_id=venue_id,
            period=period,
            key=period_key(period, local_date),
        )

    def count(self, booking_id: UUID, minutes: int, quotas: list[Quota], cause: Cause) -> None:
        """Count a booking, unless it would break one of this period's quotas (the strictest
        refuses first: each is checked)."""
        for quota in quotas:
            if quota.kind == "bookings" and len(self.counted) + 1 > quota.limit:
                raise Refused(
                    f"quota reached: at most {quota.limit:g} bookings per {quota.period} here "
                    f"(you have {len(self.counted)} in {self._period_name()})",
                    "quota_exceeded",
                )
            used = sum(self.counted.values())
            if quota.kind == "hours" and used + minutes > quota.limit * 60:
                raise Refused(
                    f"quota reached: at most {quota.limit:g} hours per {quota.period} here "
                    f"(you have {used / 60:g} h in {self._period_name()}, "
                    f"this booking is {minutes / 60:g} h)",
                    "quota_exceeded",
                )
        self._record(self.Counted, cause, booking_id=str(booking_id), minutes=minutes)

    def uncount(self, booking_id: UUID, cause: Cause) -> bool:
        if str(booking_id) not in self.counted:
            return False
        self._record(self.Uncounted, cause, booking_id=str(booking_id))
        return True

    def _period_name(self) -> str:
        return {"day": "the day", "week": "the week", "month": "the month"}[self.period] + f" {self.key}"
