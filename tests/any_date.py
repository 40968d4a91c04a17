"""The instant the any-date run of `make test` starts its fake clock at (DESIGN rule 20: the suite
passes on any date): two minutes before the first change of Europe/London's clocks at least a
year from today, so the run is a year ahead and crosses a DST change while it runs. Prints it in
faketime's "@YYYY-MM-DD HH:MM:SS" form, in UTC, which is London's own time at those moments
(clocks go forward at 01:00 UTC and back at 01:00 UTC), so `TZ=Europe/London faketime` reads it
right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/London")


def next_change(after: datetime) -> datetime:
    """The first instant after `after` (to the minute) where Europe/London's offset changes."""
    step, at = timedelta(hours=1), after.replace(minute=0, second=0, microsecond=0)
    while at.astimezone(ZONE).utcoffset() == (at + step).astimezone(ZONE).utcoffset():
        at += step
    return at + step


if __name__ == "__main__":
    change = next_change(datetime.now(UTC) + timedelta(days=365))
    print(f"@{change - timedelta(minutes=2):%Y-%m-%d %H:%M:%S}")
