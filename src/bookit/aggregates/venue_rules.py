"""A venue's own rules (DESIGN rule 12), as one value: every field defaults to what BookIT does
without rules, so a venue that never set any behaves exactly as before.

The rules are history: each change is a `Venue.RulesSet` event carrying the whole new value, and
whatever a rule judges (a booking, an offer) records the rules that judged it, so a replay gives
the same answers even after the rules changed.

Fields, by the issue they serve:
- booking (issue 12): `buffer_minutes` kept free before and after each live booking;
  `min_notice_minutes` and `max_advance_days` (how soon / how far ahead one may book);
  `min_duration_minutes`, `max_duration_minutes`; `quotas` per user; `check_in_minutes` (the
  owner checks in from the start until this long after it, or the booking is released as a
  no-show); `late_cancel_minutes` (a cancellation this close to the start is a strike);
  `no_show_strikes` within `strike_days` suspend a user's new bookings at the venue.
- waitlist (issue 13): `offer_window` ("auto" or minutes; None means the service's
  `config.Rules.offer_window`), `quiet_hours` ("HH:MM-HH:MM" in the venue's zone, or None),
  `offer_mode` ("one", "batch:N" or "all").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from bookit.errors import Refused

PERIODS = ("day", "week", "month")
QUOTA_KINDS = ("bookings", "hours")


@dataclass(frozen=True)
class Quota:
    """At most `limit` bookings (or hours) per user per `period` in the venue's zone."""

    kind: str  # "bookings" or "hours"
    limit: float
    period: str  # "day", "week" or "month"

    def __str__(self) -> str:
        amount = int(self.limit) if float(self.limit).is_integer() else self.limit
        return f"{amount}/{self.period}"


@dataclass(frozen=True)
class VenueRules:
    buffer_minutes: int = 0
    min_notice_minutes: int = 0
    max_advance_days: int | None = None
    min_duration_minutes: int | None = None
    max_duration_minutes: int | None = None
    quotas: tuple[Quota, ...] = field(default=())
    check_in_minutes: int | None = None
    late_cancel_minutes: int | None = None
    no_show_strikes: int | None = None
    strike_days: int = 30
    offer_window: int | str | None = None
    quiet_hours: str | None = None
    offer_mode: str = "one"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, as events carry them."""
        data = asdict(self)
        data["quotas"] = [asdict(q) for q in self.quotas]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> VenueRules:
        """The rules an event recorded; fields it does not name keep their defaults (events
        recorded before a field existed still load)."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["quotas"] = tuple(q if isinstance(q, Quota) else Quota(**q) for q in values.get("quotas", ()))
        return cls(**values)

    def quotas_of(self, kind: str) -> tuple[Quota, ...]:
        return tuple(q for q in self.quotas if q.kind == kind)

    def window_refusal(
        self, starts_at: datetime, ends_at: datetime, now: datetime, *, notice: bool = True
    ) -> Refused | None:
        """Why a booking of [starts_at, ends_at) made at `now` breaks the venue's booking window
        or durations (rule 13), or None. `notice=False` skips the minimum notice (a queue may be
        joined, and freed time claimed, at any notice)."""
        minutes = (ends_at - starts_at) / timedelta(minutes=1)
        if self.min_duration_minutes is not None and minutes < self.min_duration_minutes:
            return Refused(
                f"too short: bookings here last at least {self.min_duration_minutes} minutes "
                f"(this one {minutes:g})",
                "too_short",
            )
        if self.max_duration_minutes is not None and minutes > self.max_duration_minutes:
            return Refused(
                f"too long: bookings here last at most {self.max_duration_minutes} minutes "
                f"(this one {minutes:g})",
                "too_long",
            )
        ahead = starts_at - now
        if notice and ahead < timedelta(minutes=self.min_notice_minutes):
            return Refused(
                f"too soon: book at least {self.min_notice_minutes} minutes before the start "
                f"(this one starts in {ahead // timedelta(minutes=1)})",
                "too_soon",
            )
        if self.max_advance_days is not None and ahead > timedelta(days=self.max_advance_days):
            return Refused(
                f"too far ahead: book at most {self.max_advance_days} days before the start "
                f"(this one is {ahead.days} days away)",
                "too_far_ahead",
            )
        return None

    def problems(self) -> list[str]:
        """What does not hold together in these rules (checked when they are set)."""
        found = []
        low, high = self.min_duration_minutes, self.max_duration_minutes
        if low is not None and high is not None and low > high:
            found.append(f"min_duration_minutes {low} is more than max_duration_minutes {high}")
        if self.max_advance_days is not None and self.min_notice_minutes > self.max_advance_days * 1440:
            found.append(
                f"min_notice_minutes {self.min_notice_minutes} is beyond max_advance_days "
                f"{self.max_advance_days}: nothing could be booked"
            )
        for kind in QUOTA_KINDS:
            periods = [q.period for q in self.quotas_of(kind)]
            if len(periods) != len(set(periods)):
                found.append(f"more than one {kind} quota per period")
        return found

    def lines(self) -> list[tuple[str, str]]:
        """(name, value) pairs, as `bookit venue rules` prints them."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "quotas":
                for kind in QUOTA_KINDS:
                    shown = ", ".join(str(q) for q in self.quotas_of(kind)) or "none"
                    out.append((f"quota_{kind}", shown))
                continue
            out.append((f.name, "none" if value is None else str(value)))
        return out


RULE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(VenueRules))
