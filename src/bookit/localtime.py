"""Wall-clock times that people type, turned into UTC instants (DESIGN rule 3).

A venue's date and times are its own zone's wall clock. On a DST change some wall times do not
exist (the clock jumps forward) and some happen twice (it falls back); both are refused with a
clear message instead of silently picking one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bookit.errors import BadInput, shown


def zone(name: str) -> ZoneInfo:
    if name not in _known_zones():
        raise BadInput(f"unknown time zone: {shown(name)} (use an IANA name like Europe/London)", "bad_tz")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise BadInput(f"unknown time zone: {shown(name)}", "bad_tz") from exc


_ZONES: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


_DATE_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> date:
    if not _DATE_FORM.fullmatch(text):
        raise BadInput(f"malformed date {shown(text)}: expected YYYY-MM-DD, e.g. 2027-02-28", "bad_date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{text} is not a date on the calendar (check the month and day)", "bad_date"
        ) from None


def parse_time(text: str) -> time:
    try:
        if len(text) != 5 or text[2] != ":":
            raise ValueError
        return time.fromisoformat(text)
    except ValueError:
        raise BadInput(f"malformed time {shown(text)}: expected HH:MM, e.g. 14:00", "bad_time") from None


# An end time of 24:00 is midnight at the end of the day (ISO 8601 allows it; availability
# reports free time up to it). A start cannot be 24:00: that is the next day's 00:00.
END_OF_DAY = "24:00"


def parse_end(text: str) -> time | None:
    """An end time: a wall time, or None for 24:00 (midnight at the end of the day)."""
    return None if text == END_OF_DAY else parse_time(text)


def minutes_of_day(text: str) -> int:
    """HH:MM (or 24:00) as minutes since the day's midnight, to compare a start and an end."""
    wall = parse_end(text)
    return 1440 if wall is None else wall.hour * 60 + wall.minute


def local_instant(day: date, text: str, tz_name: str) -> datetime:
    """The UTC instant of a start or end time typed for `day` in zone `tz_name`; 24:00 is the
    next day's midnight."""
    wall = parse_end(text)
    if wall is None:
        return to_utc(day + timedelta(days=1), time(0), tz_name)
    return to_utc(day, wall, tz_name)


def to_utc(day: date, wall: time, tz_name: str) -> datetime:
    """The UTC instant of `wall` on `day` in zone `tz_name`, refusing DST gaps and overlaps."""
    tz = zone(tz_name)
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    # Round-tripping through UTC shows whether the wall time exists at all (gap) ...
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise BadInput(
            f"{day} {wall:%H:%M} does not exist in {tz_name} (the clocks jump forward)",
            "nonexistent_local_time",
        )
    # ... and the two folds differ only when it happens twice (overlap).
    if first.utcoffset() != second.utcoffset():
        raise BadInput(
            f"{day} {wall:%H:%M} happens twice in {tz_name} (the clocks fall back); pick another time",
            "ambiguous_local_time",
        )
    return first.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an explicit offset (`--now`, `Tick.now`), as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"malformed instant {shown(text)}: expected ISO 8601", "bad_now") from None
    if value.tzinfo is None:
        raise BadInput(f"instant {shown(text)} has no UTC offset", "bad_now")
    return value.astimezone(UTC)


# Instants as the read models and the bus write them: UTC, to the second, with a Z.
def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:  # what events read back from the store hold
        text = _RECENT.get(value)
        if text is None:
            if len(_RECENT) >= _RECENT_MAX:
                _RECENT.clear()
            text = _RECENT[value] = _text(value)
        return text
    return _text(value.astimezone(UTC))


# This runs several times for every stored event, and the events of one command share their
# instant (as a booking's events share its start and end): the text of recent UTC instants is
# kept. Only UTC ones: a zone's datetimes an hour apart across a DST change can compare equal.
_RECENT: dict[datetime, str] = {}
_RECENT_MAX = 4096


def _text(value: datetime) -> str:
    # The first 19 characters of isoformat (the year always has four digits) are the instant
    # to the second, without building a new datetime first as replace() would.
    return value.isoformat()[:19] + "Z"


def from_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
