"""Back-off for a follower whose deliveries fail: how long to leave the server alone.

The state lives in the read-model database next to the follower's tracked position, so a
restarted worker (or another worker) keeps waiting instead of starting over at full speed. It
is policy, so every instant comes from the `now` the caller was given, never the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select

from bookit.localtime import from_iso, iso
from bookit.projections.database import upsert
from bookit.projections.tables import backoffs

_READ = select(backoffs).where(backoffs.c.name == bindparam("follower"))
_CLEAR = delete(backoffs).where(backoffs.c.name == bindparam("follower"))
_STATE = ("failures", "retry_at", "failing_since", "last_error")
# Far enough: 2**30 times any sane first delay is past any cap.
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class Backoff:
    failures: int = 0
    retry_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str = ""

    def holds(self, now: datetime) -> bool:
        """True while the last failure asks to wait: no attempt before `retry_at`."""
        return self.retry_at is not None and now < self.retry_at

    def after_failure(self, error: str, now: datetime, first: timedelta, cap: timedelta) -> Backoff:
        """The wait doubles with each failure in a row, from `first` up to `cap`."""
        delay = min(first * 2 ** min(self.failures, _MAX_DOUBLINGS), cap)
        return Backoff(self.failures + 1, _whole_second_up(now + delay), self.failing_since or now, error)


def _whole_second_up(instant: datetime) -> datetime:
    # Instants are stored to the second; rounding up keeps "not before now + delay" true.
    if instant.microsecond:
        instant = instant.replace(microsecond=0) + timedelta(seconds=1)
    return instant


def load(conn: Connection, follower: str) -> Backoff:
    row = conn.execute(_READ, {"follower": follower}).first()
    if row is None:
        return Backoff()
    return Backoff(row.failures, from_iso(row.retry_at), from_iso(row.failing_since), row.last_error)


def save(conn: Connection, follower: str, backoff: Backoff) -> None:
    if not backoff.failures:
        conn.execute(_CLEAR, {"follower": follower})
        return
    row = {
        "name": follower,
        "failures": backoff.failures,
        "retry_at": iso(backoff.retry_at),
        "failing_since": iso(backoff.failing_since),
        "last_error": backoff.last_error,
    }
    # Two workers failing at once both write: the later write wins, which is as good as the other.
    conn.execute(upsert(backoffs, conn.dialect.name, _STATE), row)
