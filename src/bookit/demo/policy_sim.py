"""`bookit simulate`: the same seeded demand under several offer policies, on scratch stores.

The demand is the simulated month's (`simulation.py`): Poisson booking attempts per venue and
day over the same slots, one to five days ahead, 80 % of those turned away joining the queue
(10 % of them put ahead by the desk), bookings cancelled at 4 % a day, queue places left at
10 % a day. To keep it the *same* demand under every policy, arrivals come from their own
seeded stream, drawn before anything happens, and each person's later choices (cancel, confirm,
answer an offer) from a stream keyed by who they are and which slot it is, not by what happened
before. Only what the policy changes (who is offered what, when) changes the story.

How people answer an offer email (stated assumptions, docs/waitlist-policies.md):
- they read it after a delay that is exponential with a mean of 20 minutes;
- one that arrives at night (22:00-07:00 in the venue's zone) is read only the next morning
  (07:00-09:00) by 70 % of people: people answer late at night less often;
- having read it in time, 75 % claim within three minutes, 15 % decline, 10 % do nothing.

Every run writes to its own scratch store; no email leaves it (a counting outbox, rule 18).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from bookit import commands as c
from bookit.adapters.mail.counting import CountingOutbox
from bookit.aggregates.offer_policy import OfferMode, QuietHours
from bookit.aggregates.waitlist import WaitlistSlot, WaitlistTicket
from bookit.config import Rules
from bookit.demo.simulation import ADMIN, Simulation, Venue
from bookit.errors import BadInput, shown
from bookit.localtime import parse_date, parse_time, to_utc

DEFAULT_QUIET = "22:00-08:00"
READ_MEAN_MINUTES = 20.0
NIGHT = QuietHours(time(22, 0), time(7, 0))
NIGHT_LATE_SHARE = 0.7


@dataclass(frozen=True)
class NamedPolicy:
    """A policy named by its parts joined with `+`: a window (`fixed`, `fixed:MINUTES` or
    `auto`), a mode (`one`, `batch:N`, `all`) and maybe `quiet` or `quiet:HH:MM-HH:MM`.
    `today` is today's rule (`fixed:15+one`); parts left out keep today's."""

    name: str
    window: str = "15"
    mode: str = "one"
    quiet: str | None = None

    @classmethod
    def parse(cls, name: str) -> NamedPolicy:
        policy = cls(name.strip())
        for part in (p.strip().lower() for p in name.split("+")):
            if part in ("today", ""):
                continue
            if part == "auto":
                policy = replace(policy, window="auto")
            elif part == "fixed" or part.startswith("fixed:"):
                minutes = part.removeprefix("fixed").lstrip(":") or "15"
                if not minutes.isdigit() or not 1 <= int(minutes) <= 10080:
                    raise BadInput(f"policy {shown(name)}: {shown(part)} needs 1-10080 minutes", "bad_policy")
                policy = replace(policy, window=minutes)
            elif part == "quiet" or part.startswith("quiet:"):
                hours = part.removeprefix("quiet").lstrip(":") or DEFAULT_QUIET
                policy = replace(policy, quiet=str(QuietHours.parse(hours)))
            elif part in ("one", "all") or part.startswith("batch"):
                policy = replace(policy, mode=str(OfferMode.parse(part)))
            else:
                raise BadInput(
                    f"policy {shown(name)}: unknown part {shown(part)} "
                    "(expected today, auto, fixed:M, one, batch:N, all, quiet[:HH:MM-HH:MM])",
                    "bad_policy",
                )
        return policy

    def rules(self, base: Rules) -> Rules:
        auto = self.window == "auto"
        window = base.offer_window if auto else timedelta(minutes=int(self.window))
        return replace(
            base, offer_window=window, offer_window_auto=auto, offer_mode=self.mode, quiet_hours=self.quiet
        )


class PolicySimulation(Simulation):
    """The simulated month's demand under one offer policy, told the same way for every policy."""

    def __init__(
        self,
        home: str | Path,
        policy: NamedPolicy,
        *,
        venues: int,
        days: int,
        seed: int,
        tick_minutes: int = 5,
        base_rules: Rules | None = None,
    ) -> None:
        self.outbox = CountingOutbox()
        rules = policy.rules(base_rules or Rules())
        super().__init__(
            home,
            venues=venues,
            days=days,
            seed=seed,
            tick_minutes=tick_minutes,
            rules=rules,
            outbox=self.outbox,
        )
        self.policy = policy
        self.seed = seed
        self.demand = random.Random(f"demand/{seed}")
        self.offers_seen: dict[str, int] = {}
        self._venue_of = {v.venue_id: v for v in self.venues}

    def _keyed(self, *key: object) -> random.Random:
        """A person's own stream for one choice: the same under every policy."""
        return random.Random("/".join(str(k) for k in (self.seed, *key)))

    # Arrivals: drawn from the demand stream alone, whatever happened before

    def _plan_step(self, step_start: datetime) -> None:
        share_of_day = self.step / timedelta(days=1)
        for venue in self.venues:
            for _ in range(_poisson(self.demand, self.attempts_per_day * share_of_day)):
                when = step_start + timedelta(seconds=self.demand.randrange(int(self.step.total_seconds())))
                user, slot = self.demand.choice(self.users), self.demand.choice(self.slots)
                ahead = self.demand.randint(1, 5)
                queue, desk = self.demand.random() < 0.8, self.demand.random() < 0.1
                self._at(when, partial(self._attempt, venue, user, slot, ahead, queue, desk))

    def _attempt(
        self, venue: Venue, user: str, slot: tuple[str, str], ahead: int, queue: bool, desk: bool
    ) -> None:
        today = self.clock.now.astimezone(venue.tz).date()
        fields = {
            "venue_id": venue.venue_id,
            "date": (today + timedelta(days=ahead)).isoformat(),
            "start": slot[0],
            "end": slot[1],
        }
        starts_at = to_utc(parse_date(fields["date"]), parse_time(slot[0]), str(venue.tz))
        key = (user, *fields.values())
        booked = self._send(c.BookVenue, actor=user, purpose="simulated", **fields)
        if isinstance(booked, dict):
            self._remember_booking(booked["booking_id"], user, starts_at, key)
            return
        if booked.code not in ("slot_taken", "slot_held") or not queue:
            return
        if desk:
            joined = self._send(c.JoinWaitlist, actor=ADMIN, user=user, priority=-1, **fields)
        else:
            joined = self._send(c.JoinWaitlist, actor=user, **fields)
        if isinstance(joined, dict):
            entry_id = joined["entry_id"]
            self.entries[entry_id] = (user, starts_at)
            leaves_after = timedelta(days=self._keyed("leave", *key).expovariate(0.1))
            if self.clock.now + leaves_after < starts_at:
                self._at(self.clock.now + leaves_after, partial(self._leave, entry_id))

    def _remember_booking(
        self, booking_id: str, user: str, starts_at: datetime, key: tuple[str, ...]
    ) -> None:
        self.bookings[booking_id] = (user, starts_at)
        cancels_after = timedelta(days=self._keyed("cancel", *key).expovariate(0.04))
        if self.clock.now + cancels_after < starts_at:
            self._at(self.clock.now + cancels_after, partial(self._cancel, booking_id))

    def _answer_reminder(self, owner: str, booking_id: str) -> None:
        _, starts_at = self.bookings.get(booking_id, (owner, self.clock.now))
        rng = self._keyed("reminder", owner, starts_at.isoformat())
        choice = rng.random()
        later = self.clock.now + timedelta(minutes=rng.uniform(5, 18 * 60))
        if choice < 0.7:
            self._at(later, partial(self._send, c.ConfirmBooking, actor=owner, booking_id=booking_id))
        elif choice < 0.8:
            self._at(later, partial(self._cancel, booking_id))

    # Offers: read late at night less often, answered by the person's own stream

    def _answer_offer(self, user: str, entry_id: str) -> None:
        slot = self._slot_of(entry_id)
        entry = slot.entries.get(entry_id)
        if entry is None or entry.deadline is None:
            return
        seen = self.offers_seen[entry_id] = self.offers_seen.get(entry_id, 0) + 1
        rng = self._keyed("offer", user, slot.venue_id, slot.date, slot.start, seen)
        read_at = self._read_at(rng, self._venue_of[slot.venue_id])
        if read_at >= entry.deadline:
            return  # read too late: the offer runs out (or was claimed by another)
        choice = rng.random()
        if choice < 0.75:
            claim_at = min(
                read_at + timedelta(minutes=rng.uniform(0, 3)), entry.deadline - timedelta(seconds=1)
            )
            self._at(claim_at, partial(self._claim, user, entry_id, slot.starts_at))
        elif choice < 0.9:
            self._at(read_at, partial(self._send, c.DeclineOffer, actor=user, entry_id=entry_id))

    def _read_at(self, rng: random.Random, venue: Venue) -> datetime:
        now = self.clock.now
        read_at = now + timedelta(minutes=rng.expovariate(1 / READ_MEAN_MINUTES))
        local = now.astimezone(venue.tz)
        late = rng.random() < NIGHT_LATE_SHARE
        if late and NIGHT.contains(local.time().replace(tzinfo=None)):
            morning = local.date() + timedelta(days=1 if local.hour >= 12 else 0)
            wake = to_utc(morning, time(7, 0), str(venue.tz)) + timedelta(minutes=rng.uniform(0, 120))
            read_at = max(read_at, wake)
        return read_at

    def _slot_of(self, entry_id: str) -> WaitlistSlot:
        ticket: Any = self.service.app.repository.get(UUID(entry_id))
        assert isinstance(ticket, WaitlistTicket)
        return self.service.app.waitlist_slot(UUID(ticket.slot_id))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method, as simulation.py draws it, on the given stream.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
