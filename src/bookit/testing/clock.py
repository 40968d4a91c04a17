"""A clock that only moves when a test moves it: pass it to `bootstrap` (or `scratch_service`)
and every command, tick and email is stamped with its `now`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = field(default=DEFAULT_START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move on by `timedelta(**delta)`, e.g. `clock.advance(minutes=15)`."""
        self.now += timedelta(**delta)
        return self.now

    def set(self, instant: datetime) -> datetime:
        """Jump to an instant (an aware datetime; stored as UTC)."""
        if instant.tzinfo is None:
            raise ValueError(f"{instant} has no time zone: give the clock an aware instant")
        self.now = instant.astimezone(UTC)
        return self.now
