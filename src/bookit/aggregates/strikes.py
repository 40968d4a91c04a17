"""One user's strikes at one venue (DESIGN rule 14): no-shows and late cancellations.

`no_show_strikes` strikes within `strike_days` days (the venue's rules when a new booking is
asked for) suspend that user's new bookings at the venue until enough of them age out, or an
admin clears them. An admin may also waive a single strike; the event names its booking, so the
booking's history shows it. A strike is keyed by its booking: one booking is one strike at most.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from bookit.aggregates.base import Cause, DomainAggregate, derived_id
from bookit.errors import Refused

NO_SHOW = "no_show"
LATE_CANCEL = "late_cancel"

ACTIVE, WAIVED, CLEARED = "active", "waived", "cleared"


@dataclass(frozen=True)
class Strike:
    booking_id: str
    reason: str
    at: datetime
    status: str = ACTIVE


def suspension_end(active: list[datetime], limit: int | None, days: int) -> datetime | None:
    """When strikes recorded at `active` (those still counting) stop suspending: None if they
    do not now. Once the oldest len-limit+1 have aged out, fewer than `limit` remain."""
    if limit is None or len(active) < limit:
        return None
    return sorted(active)[len(active) - limit] + timedelta(days=days)


class StrikeRecord(DomainAggregate):
    TOPIC = "bookit.StrikeRecord"

    class Created(DomainAggregate.Created):
        TOPIC = "strikes.created"

    class Opened(Created):
        TOPIC = "strikes.opened"
        user: str
        venue_id: str

    class StrikeRecorded(DomainAggregate.Event):
        TOPIC = "strikes.recorded"
        booking_id: str
        reason: str
        user: str
        venue_id: str

        def apply(self, record: StrikeRecord) -> None:
            record.strikes[self.booking_id] = Strike(self.booking_id, self.reason, self.timestamp)

    class StrikeWaived(DomainAggregate.Event):
        TOPIC = "strikes.waived"
        booking_id: str

        def apply(self, record: StrikeRecord) -> None:
            record.strikes[self.booking_id] = replace(record.strikes[self.booking_id], status=WAIVED)

    class StrikesCleared(DomainAggregate.Event):
        TOPIC = "strikes.cleared"
        booking_ids: list[str]

        def apply(self, record: StrikeRecord) -> None:
            for booking_id in self.booking_ids:
                record.strikes[booking_id] = replace(record.strikes[booking_id], status=CLEARED)

    class Suspended(DomainAggregate.Event):
        """This strike suspended the user's new bookings here until `until` (the notice's event)."""

        TOPIC = "strikes.suspended"
        until: datetime
        strikes: int
        days: int
        # The booking whose strike it was, for the notice.
        booking_id: str
        date: str
        start: str
        end: str

    def __init__(self, user: str, venue_id: str, **_: Any) -> None:
        self.user = user
        self.venue_id = venue_id
        self.strikes: dict[str, Strike] = {}

    @staticmethod
    def id_for(user: str, venue_id: str) -> UUID:
        return derived_id("strikes", user, venue_id)

    @classmethod
    def open(cls, user: str, venue_id: str, cause: Cause) -> StrikeRecord:
        return cls._start(cls.Opened, cls.id_for(user, venue_id), cause, user=user, venue_id=venue_id)

    def active(self, now: datetime, days: int) -> list[Strike]:
        """Strikes that still count: neither waived nor cleared, and less than `days` old."""
        since = now - timedelta(days=days)
        return sorted(
            (s for s in self.strikes.values() if s.status == ACTIVE and s.at > since), key=lambda s: s.at
        )

    def suspended_until(self, now: datetime, limit: int | None, days: int) -> datetime | None:
        """When new bookings are allowed again, or None if they are now."""
        return suspension_end([s.at for s in self.active(now, days)], limit, days)

    def refuse_if_suspended(self, now: datetime, limit: int | None, days: int, tz: str) -> None:
        until = self.suspended_until(now, limit, days)
        if until is not None:
            count = len(self.active(now, days))
            raise Refused(
                f"suspended: {count} strikes (no-shows or late cancellations) in the last {days} days; "
                f"new bookings here are suspended until {until.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} "
                f"({tz}) or until an admin clears them",
                "suspended",
            )

    def strike(
        self,
        booking_id: UUID,
        reason: str,
        cause: Cause,
        limit: int | None,
        days: int,
        slot: tuple[str, str, str] = ("", "", ""),
    ) -> bool:
        """Record a strike for a booking (once); returns True if it suspended the user."""
        if str(booking_id) in self.strikes:
            return False
        was = self.suspended_until(cause.at, limit, days)
        self._record(
            self.StrikeRecorded,
            cause,
            booking_id=str(booking_id),
            reason=reason,
            user=self.user,
            venue_id=self.venue_id,
        )
        until = self.suspended_until(cause.at, limit, days)
        if was is None and until is not None:
            date, start, end = slot
            self._record(
                self.Suspended,
                cause,
                until=until,
                strikes=len(self.active(cause.at, days)),
                days=days,
                booking_id=str(booking_id),
                date=date,
                start=start,
                end=end,
            )
            return True
        return False

    def waive(self, booking_id: str, cause: Cause, *, actor_is_admin: bool) -> None:
        if not actor_is_admin:
            raise Refused("only an admin may waive a strike", "not_admin")
        strike = self.strikes.get(booking_id)
        if strike is None or strike.status != ACTIVE:
            raise Refused("this booking has no strike to waive", "no_strike")
        self._record(self.StrikeWaived, cause, booking_id=booking_id)

    def clear(self, cause: Cause, *, actor_is_admin: bool) -> int:
        if not actor_is_admin:
            raise Refused("only an admin may clear strikes", "not_admin")
        ids = sorted(s.booking_id for s in self.strikes.values() if s.status == ACTIVE)
        if ids:
            self._record(self.StrikesCleared, cause, booking_ids=ids)
        return len(ids)
