"""Hypothesis strategies for users' own property tests: users, venues, slots, clock jumps and
interleaved command stories, with the awkward instants in the venue's own zone (a DST change,
local midnight) drawn on purpose.

    from hypothesis import given
    from bookit.testing import strategies as bst

    @given(story=bst.stories(bst.HALL))
    def test_my_rules_keep_every_promise(story): ...

A story is a list of steps (`Book`, `Cancel`, `Confirm`, `Join`, `Claim`, `Decline`, `Leave`,
`Tick`); `play(service, clock, venue, story)` runs it through the real bus and returns each
step's outcome (a dict, or the refusal), so the same story always tells the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.errors import BadInput, BookitError
from bookit.localtime import parse_date, parse_time, to_utc
from bookit.testing.clock import DEFAULT_START, FakeClock

# Zones with a DST change (one of them by 30 minutes), one without, and UTC itself.
ZONES = ("Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Tokyo", "UTC")


@dataclass(frozen=True)
class VenueSpec:
    venue_id: str
    name: str
    tz: str

    def register(self) -> c.RegisterVenue:
        return c.RegisterVenue(actor=SYSTEM, name=self.name, tz=self.tz, venue_id=self.venue_id)


HALL = VenueSpec("hall", "Main Hall", "Europe/London")


@dataclass(frozen=True)
class SlotSpec:
    """A slot as people type it: a local date and wall times in the venue's zone."""

    venue_id: str
    date: str
    start: str
    end: str

    def where(self) -> dict[str, str]:
        return {"venue_id": self.venue_id, "date": self.date, "start": self.start, "end": self.end}


def users(count: int = 6) -> st.SearchStrategy[str]:
    """One of `count` people, `user0@example.org` ... (few, so they meet in the same queues)."""
    return st.integers(0, count - 1).map(lambda n: f"user{n}@example.org")


def venues(zones: tuple[str, ...] = ZONES) -> st.SearchStrategy[VenueSpec]:
    return st.builds(
        lambda n, tz: VenueSpec(f"venue-{n}", f"Venue {n}", tz), st.integers(1, 3), st.sampled_from(zones)
    )


@lru_cache(maxsize=256)
def dst_changes(tz: str, year: int) -> tuple[datetime, ...]:
    """The instants (UTC, to the minute) at which `tz` changes its offset during `year`."""
    zone = ZoneInfo(tz)
    changes = []
    at = datetime(year, 1, 1, tzinfo=UTC)
    while at.year == year:
        step = at + timedelta(hours=1)
        if at.astimezone(zone).utcoffset() != step.astimezone(zone).utcoffset():
            low, high = at, step
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                same = mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            changes.append(high.replace(second=0, microsecond=0))
        at = step
    return tuple(changes)


def _valid(spec: SlotSpec, tz: str) -> bool:
    try:
        day = parse_date(spec.date)
        return to_utc(day, parse_time(spec.start), tz) < to_utc(day, parse_time(spec.end), tz)
    except BadInput:
        return False  # a wall time that does not exist or happens twice (DST): refused, not a slot


def slots(venue: VenueSpec, first_day: date | None = None, days: int = 3) -> st.SearchStrategy[SlotSpec]:
    """Slots of `venue` in `days` days from `first_day`, on the day of a DST change in its zone
    too, and some just before local midnight; only wall times that exist once in its zone."""
    first_day = first_day or DEFAULT_START.date()
    changes = [d.astimezone(ZoneInfo(venue.tz)).date() for d in dst_changes(venue.tz, first_day.year)]
    dates = st.one_of(
        st.integers(0, days - 1).map(lambda n: first_day + timedelta(days=n)),
        *([st.sampled_from(changes)] if changes else []),
    )
    starts = st.one_of(
        st.integers(8 * 4, 20 * 4).map(lambda q: time(q // 4, q % 4 * 15)),
        st.sampled_from([time(0, 0), time(0, 30), time(1, 0), time(1, 30), time(2, 0), time(2, 30)]),
        st.sampled_from([time(22, 30), time(23, 0), time(23, 15)]),  # up to local midnight
    )
    lengths = st.sampled_from([30, 45, 60, 90, 120])

    def build(day: date, start: time, minutes: int) -> SlotSpec:
        end_minutes = min(start.hour * 60 + start.minute + minutes, 23 * 60 + 59)
        end = time(end_minutes // 60, end_minutes % 60)
        return SlotSpec(venue.venue_id, day.isoformat(), f"{start:%H:%M}", f"{end:%H:%M}")

    return st.builds(build, dates, starts, lengths).filter(lambda s: _valid(s, venue.tz))


@dataclass(frozen=True)
class Jump:
    """How the clock moves: by some minutes, or to just around the venue's next local midnight
    or next DST change (`seconds` either side). It never moves backwards."""

    kind: str  # "minutes", "midnight", "dst"
    amount: int

    def after(self, now: datetime, tz: str) -> datetime:
        if self.kind == "minutes":
            return now + timedelta(minutes=self.amount)
        zone = ZoneInfo(tz)
        if self.kind == "midnight":
            local = now.astimezone(zone)
            target = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        else:
            later = [d for y in (now.year, now.year + 1) for d in dst_changes(tz, y) if d > now]
            if not later:
                return now + timedelta(hours=1)
            target = later[0]
        return max(now, target + timedelta(seconds=self.amount))


def clock_jumps() -> st.SearchStrategy[Jump]:
    return st.one_of(
        st.builds(Jump, st.just("minutes"), st.integers(1, 6 * 60)),
        st.builds(Jump, st.just("midnight"), st.integers(-90, 90)),
        st.builds(Jump, st.just("dst"), st.integers(-90, 90)),
    )


# Stories: steps that pick earlier bookings or entries by index (modulo how many there are)


@dataclass(frozen=True)
class Book:
    user: str
    slot: SlotSpec


@dataclass(frozen=True)
class Join:
    user: str
    slot: SlotSpec


@dataclass(frozen=True)
class OnBooking:
    action: str  # "cancel", "confirm"
    pick: int


@dataclass(frozen=True)
class OnEntry:
    action: str  # "claim", "decline", "leave"
    pick: int


@dataclass(frozen=True)
class Tick:
    jump: Jump


Step = Book | Join | OnBooking | OnEntry | Tick


def stories(venue: VenueSpec = HALL, people: int = 5, max_steps: int = 25) -> st.SearchStrategy[list[Step]]:
    """Interleaved commands of a few people on one venue's slots, with ticks after clock jumps."""
    slot = slots(venue)
    pick = st.integers(0, 50)
    step: st.SearchStrategy[Step] = st.one_of(
        st.builds(Book, users(people), slot),
        st.builds(Join, users(people), slot),
        st.builds(OnBooking, st.sampled_from(["cancel", "confirm"]), pick),
        st.builds(OnEntry, st.sampled_from(["claim", "decline", "leave"]), pick),
        st.builds(Tick, clock_jumps()),
    )
    return st.lists(step, min_size=1, max_size=max_steps)


def play(service: Any, clock: FakeClock, venue: VenueSpec, story: list[Step]) -> list[Any]:
    """Run a story on the service (registering the venue first): each step's outcome, a dict or
    the BookitError that refused it. Command ids come from a counter, so a story replays."""
    made: list[tuple[str, str]] = []  # (booking id, owner)
    joined: list[tuple[str, str]] = []  # (entry id, owner)
    outcomes: list[Any] = []
    counter = iter(range(1, 10**9))

    def send(cls: type[c.Command], **fields: Any) -> Any:
        try:
            return service.bus.handle(c.build(cls, command_id=UUID(int=next(counter)), **fields))
        except BookitError as refusal:
            return refusal

    send(c.RegisterVenue, actor=SYSTEM, name=venue.name, tz=venue.tz, venue_id=venue.venue_id)
    for s in story:
        out: Any
        if isinstance(s, Book):
            out = send(c.BookVenue, actor=s.user, **s.slot.where())
            if isinstance(out, dict):
                made.append((out["booking_id"], s.user))
        elif isinstance(s, Join):
            out = send(c.JoinWaitlist, actor=s.user, **s.slot.where())
            if isinstance(out, dict):
                joined.append((out["entry_id"], s.user))
        elif isinstance(s, OnBooking) and made:
            booking_id, owner = made[s.pick % len(made)]
            command: type[c.Command] = c.CancelBooking if s.action == "cancel" else c.ConfirmBooking
            out = send(command, actor=owner, booking_id=booking_id)
        elif isinstance(s, OnEntry) and joined:
            entry_id, owner = joined[s.pick % len(joined)]
            on_entry: dict[str, type[c.Command]] = {
                "claim": c.ClaimOffer,
                "decline": c.DeclineOffer,
                "leave": c.LeaveWaitlist,
            }
            out = send(on_entry[s.action], actor=owner, entry_id=entry_id)
            if isinstance(out, dict) and "booking_id" in out:
                made.append((out["booking_id"], owner))
        elif isinstance(s, Tick):
            clock.set(s.jump.after(clock.now, venue.tz))
            out = send(c.Tick, now=clock.now)
        else:
            out = None  # nothing to act on yet
        outcomes.append(out)
    return outcomes
