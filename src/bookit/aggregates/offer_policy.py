"""How a freed slot is offered: the claim window, quiet hours and the offer mode (rules 6, 15, 16).

An `OfferPolicy` is a plain value, built once per offer from the configuration and the venue's
rules in force at that moment, and handed to the domain service that makes the offer. Nothing
here reads a clock or a store, so every decision below is tested as a function of its inputs.

- Window: a fixed length (today's 15 minutes), or `auto`: it grows with the time left before the
  slot starts, from a table in configuration, but never reaches past the slot's start minus a
  minimum usable time (a slot claimed one minute before it starts is of no use), and never gets
  shorter than the minimum window for it (the cap gives way: the deadline is then the start at
  the latest, as with a fixed window). Deadlines are exact instants: expiry is to the second.
- Quiet hours (venue wall clock, may cross midnight): an offer made inside them keeps its place
  in line but its window (and its email) starts when they end, unless that would leave less than
  the minimum window before the slot starts; then it goes out at once.
- Mode: `one` person at a time, `batch:N` (the next N in line together), `all` (everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bookit.errors import BadInput, shown

# (time left before the slot starts at least, claim window): the longest lead first.
WindowTable = tuple[tuple[timedelta, timedelta], ...]

DEFAULT_WINDOW_TABLE: WindowTable = (
    (timedelta(days=14), timedelta(hours=24)),
    (timedelta(days=2), timedelta(hours=8)),
    (timedelta(days=1), timedelta(hours=3)),
    (timedelta(hours=6), timedelta(hours=1)),
    (timedelta(hours=2), timedelta(minutes=30)),
    (timedelta(0), timedelta(minutes=15)),
)


def window_for_lead(table: WindowTable, lead: timedelta) -> timedelta:
    """The claim window for an offer whose window opens `lead` before the slot starts."""
    for at_least, window in table:
        if lead >= at_least:
            return window
    return table[-1][1]


def parse_window_table(text: str) -> WindowTable:
    """`LEAD_MINUTES:WINDOW_MINUTES,...` (e.g. `1440:180,0:15`), as BOOKIT_OFFER_WINDOW_TABLE."""
    try:
        rows = [part.split(":") for part in text.split(",") if part.strip()]
        table = tuple(
            (timedelta(minutes=float(lead)), timedelta(minutes=float(window))) for lead, window in rows
        )
    except ValueError:
        raise BadInput(
            f"malformed offer window table {shown(text)}: expected LEAD:WINDOW,...", "bad_rule"
        ) from None
    if not table or any(window <= timedelta(0) for _, window in table):
        raise BadInput(f"offer window table {shown(text)} needs positive windows", "bad_rule")
    return tuple(sorted(table, reverse=True))


@dataclass(frozen=True)
class QuietHours:
    """A stretch of the venue's wall clock, `start` included, `end` excluded; may cross midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        try:
            first, last = text.split("-")
            start, end = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
            if len(first.strip()) != 5 or len(last.strip()) != 5:
                raise ValueError
        except ValueError:
            raise BadInput(f"malformed quiet hours {shown(text)}: expected HH:MM-HH:MM", "bad_rule") from None
        if start == end:
            raise BadInput(f"quiet hours {shown(text)} are empty: start and end are the same", "bad_rule")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def end_after(self, instant: datetime, tz: str) -> datetime | None:
        """When the quiet hours that `instant` falls in end, or None if it is not in them.

        On a day the clocks jump over the end (spring forward), they end at the jump; on a day
        the end happens twice (fall back), at its first occurrence.
        """
        zone = ZoneInfo(tz)
        local = instant.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)  # quiet since this evening: it ends tomorrow morning
        return _first_instant_at_or_after(datetime.combine(day, self.end), zone, after=instant)


def _first_instant_at_or_after(wall: datetime, zone: ZoneInfo, after: datetime) -> datetime:
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return max(candidate, after)
    # The wall time does not exist: the clock jumped over it. Find the jump, to the second,
    # in the hours around it (a gap is never longer than a day).
    low, high = candidate - timedelta(hours=3), candidate + timedelta(hours=3)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return max(high.replace(microsecond=0), after)


@dataclass(frozen=True)
class OfferMode:
    """`one`, `batch:N` or `all`: how many of those waiting one freeing is offered to."""

    name: str = "one"
    size: int = 1  # for batch; 1 for one; 0 for all

    @classmethod
    def parse(cls, text: str) -> OfferMode:
        text = text.strip().lower()
        if text == "one":
            return cls("one", 1)
        if text == "all":
            return cls("all", 0)
        if text.startswith("batch:") and text[6:].isdigit() and 1 <= int(text[6:]) <= 1000:
            return cls("batch", int(text[6:]))
        raise BadInput(f"unknown offer mode {shown(text)}: expected one, batch:N (N >= 1) or all", "bad_rule")

    def __str__(self) -> str:
        return f"batch:{self.size}" if self.name == "batch" else self.name

    def how_many(self, waiting: int) -> int:
        return waiting if self.name == "all" else min(self.size, waiting)


@dataclass(frozen=True)
class OfferPlan:
    opens_at: datetime  # when the window starts and the email goes out
    deadline: datetime  # the first instant a claim is refused


@dataclass(frozen=True)
class OfferPolicy:
    tz: str = "UTC"
    window: timedelta | None = timedelta(minutes=15)  # None: by lead time, from `table`
    table: WindowTable = DEFAULT_WINDOW_TABLE
    min_usable: timedelta = timedelta(minutes=30)
    min_window: timedelta = timedelta(minutes=15)
    quiet: QuietHours | None = None
    mode: OfferMode = OfferMode()

    def plan(self, now: datetime, starts_at: datetime) -> OfferPlan:
        """When an offer made at `now` for a slot starting at `starts_at` opens, and its deadline."""
        opens_at = now
        quiet_end = self.quiet.end_after(now, self.tz) if self.quiet is not None else None
        if quiet_end is not None and starts_at - quiet_end >= self.min_window:
            opens_at = quiet_end
        return OfferPlan(opens_at, self._deadline(opens_at, starts_at))

    def _deadline(self, opens_at: datetime, starts_at: datetime) -> datetime:
        if self.window is not None:
            return min(opens_at + self.window, starts_at)  # today's rule: never past the start
        window = window_for_lead(self.table, starts_at - opens_at)
        deadline = min(opens_at + window, starts_at - self.min_usable)
        if deadline - opens_at < self.min_window:
            deadline = min(opens_at + self.min_window, starts_at)
        return deadline

    def describe(self) -> str:
        window = "auto" if self.window is None else f"{self.window / timedelta(minutes=1):g}min"
        quiet = f" quiet {self.quiet}" if self.quiet else ""
        return f"window {window}, mode {self.mode}{quiet}"
