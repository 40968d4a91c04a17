"""Races between processes: several OS processes on one SQLite home (the embedded store, local
bus, each process its own connections), released at the same instant by a barrier.

Exactly one wins each race; every loser gets a clear refusal with its code (never a crash or
a second effect); and afterwards the DESIGN.md invariants hold. The same races through the bus
with three workers on PostgreSQL are in tests/integration/test_workers_race.py.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import traceback
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, update

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.errors import BadInput, BookitError
from bookit.projections.rebuild import verify
from bookit.projections.tables import PROJECTED, positions
from faults.harness import DAY, NOW_DT, all_problems, stored_events

ANN, BOB, CAT, DAN = "ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"
RACERS = [f"racer{i}@example.com" for i in range(6)]
FORK = multiprocessing.get_context("fork")


def slot(start: str, end: str) -> dict[str, str]:
    return {"venue_id": "main-hall", "date": DAY, "start": start, "end": end}


class Home:
    """A SQLite home the test sets up, then lets several processes race on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.now = NOW_DT
        with self.open() as service:
            service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))

    @contextlib.contextmanager
    def open(self) -> Iterator[Service]:
        service = bootstrap(self.path, clock=lambda: self.now)
        try:
            yield service
        finally:
            service.close()  # closed before any fork: no connection crosses it

    def send(self, command: c.Command) -> dict[str, Any]:
        with self.open() as service:
            return service.bus.handle(command)

    def race(self, *contenders: tuple[c.Command, datetime | None] | c.Command) -> list[dict[str, Any]]:
        """Run each command in its own process, all released at once; their replies, in order."""
        runs = [x if isinstance(x, tuple) else (x, None) for x in contenders]
        gate = FORK.Barrier(len(runs))
        outputs = [self.path.parent / f"{self.path.name}-racer{i}.json" for i in range(len(runs))]
        procs = [
            FORK.Process(target=_contend, args=(self.path, command, now or self.now, gate, out))
            for (command, now), out in zip(runs, outputs, strict=True)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        replies = [json.loads(out.read_text()) for out in outputs]
        for out in outputs:
            out.unlink()
        crashed = [r["crash"] for r in replies if "crash" in r]
        assert not crashed, crashed[0]
        return replies

    def problems(self) -> list[str]:
        with self.open() as service:
            return all_problems(service)

    def topics(self) -> list[str]:
        with self.open() as service:
            return [e.TOPIC for e in stored_events(service)]


def _contend(home: Path, command: c.Command, now: datetime, gate: Any, out: Path) -> None:
    try:
        service = bootstrap(home, clock=lambda: now)
        gate.wait(timeout=60)
        try:
            reply: dict[str, Any] = {"ok": True, "result": service.bus.handle(command)}
        except BookitError as error:
            kind = "bad_input" if isinstance(error, BadInput) else "refused"
            reply = {"ok": False, "code": error.code, "kind": kind, "error": error.message}
        service.close()
    except BaseException:
        reply = {"crash": traceback.format_exc()}
    out.write_text(json.dumps(reply, default=str))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def winners(replies: list[dict[str, Any]]) -> int:
    return sum(r["ok"] for r in replies)


def codes(replies: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["code"] for r in replies if not r["ok"])


def test_six_processes_booking_the_same_slot_one_wins_the_rest_are_told_slot_taken(home: Home) -> None:
    replies = home.race(*(c.BookVenue(actor=u, **slot("10:00", "12:00")) for u in RACERS))
    assert winners(replies) == 1
    assert set(codes(replies)) <= {"slot_taken", "contention"}
    assert all(r["kind"] == "refused" for r in replies if not r["ok"])
    assert home.problems() == []


def test_processes_booking_overlapping_intervals_never_leave_two_overlapping_bookings(home: Home) -> None:
    intervals = [
        ("09:00", "10:30"),
        ("10:00", "12:00"),
        ("11:00", "13:00"),
        ("12:30", "14:00"),
        ("13:30", "15:00"),
    ]
    replies = home.race(
        *(c.BookVenue(actor=u, **slot(s, e)) for u, (s, e) in zip(RACERS, intervals, strict=False))
    )
    assert 1 <= winners(replies) <= 3  # at most every other interval fits
    assert set(codes(replies)) <= {"slot_taken", "contention"}
    assert home.problems() == []  # includes: no two live bookings of a venue overlap


def offered(home: Home) -> str:
    """ann holds 10-12; bob waits for it; ann cancels: bob is offered the slot. Bob's entry id."""
    booking = home.send(c.BookVenue(actor=ANN, **slot("10:00", "12:00")))["booking_id"]
    entry = home.send(c.JoinWaitlist(actor=BOB, **slot("10:00", "12:00")))["entry_id"]
    home.send(c.JoinWaitlist(actor=DAN, **slot("10:00", "12:00")))
    home.send(c.CancelBooking(actor=ANN, booking_id=booking))
    return str(entry)


def test_one_offer_claimed_from_many_processes_at_once_books_once(home: Home) -> None:
    entry = offered(home)
    clicks = [c.ClaimOffer(actor=BOB, entry_id=entry) for _ in range(4)]  # four devices, four ids
    strangers = [c.ClaimOffer(actor=u, entry_id=entry) for u in (CAT, DAN)]
    replies = home.race(*clicks, *strangers)
    assert winners(replies[:4]) == 1
    assert set(codes(replies[:4])) <= {"no_offer", "contention"}
    assert [r["code"] for r in replies[4:]] == ["not_owner", "not_owner"]
    assert home.topics().count("booking.booked") == 2  # ann's, then bob's claim: never a third
    assert home.problems() == []


def test_a_click_that_read_the_offer_before_another_won_it_hears_no_offer_not_slot_taken(
    driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window the race above can hit, made deterministic: this click reads the offer, the
    other click claims it completely, then this one reads the venue-day (now the winner's). The
    answer must describe the offer ("no open offer"), not the winner's booking ("slot is taken"),
    and nothing is written twice."""
    venue = driver.venue()
    booking = driver.book(ANN, venue, DAY, "10:00", "12:00")
    entry = driver.join(BOB, venue, DAY, "10:00", "12:00")
    driver.send(c.CancelBooking, actor=ANN, booking_id=booking)
    app, winner = driver.service.app, c.ClaimOffer(actor=BOB, entry_id=entry)
    read_slot, won = app._slot_of_entry, []

    def then_the_other_click_wins(entry_id: Any) -> Any:
        slot = read_slot(entry_id)
        if not won:
            won.append(None)  # the winner's own read goes straight through
            won[0] = driver.service.bus.handle(winner)
        return slot

    monkeypatch.setattr(app, "_slot_of_entry", then_the_other_click_wins)
    with pytest.raises(BookitError) as loser:
        driver.send(c.ClaimOffer, actor=BOB, entry_id=entry)
    assert won[0]["status"] == "confirmed"
    assert loser.value.code == "no_offer", loser.value.message
    assert [type(e).TOPIC for e in driver.events()].count("booking.booked") == 2  # ann's and bob's


def test_the_owner_claiming_declining_and_leaving_at_once_gets_exactly_one_of_them(home: Home) -> None:
    entry = offered(home)
    replies = home.race(
        c.ClaimOffer(actor=BOB, entry_id=entry),
        c.DeclineOffer(actor=BOB, entry_id=entry),
        c.LeaveWaitlist(actor=BOB, entry_id=entry),
    )
    assert winners(replies) == 1, replies
    assert set(codes(replies)) <= {"no_offer", "not_waiting", "contention"}
    assert home.problems() == []


def test_cancelling_while_others_book_claim_and_join_the_same_slot(home: Home) -> None:
    """The slot frees up (ann cancels) while cat tries to book it directly, bob (waiting in the
    queue, not yet offered) tries to claim, and dan joins the queue. The freed slot is held for
    the queue (rule 7): cat can never get it, and bob gets it once, now or right after."""
    booking = home.send(c.BookVenue(actor=ANN, **slot("10:00", "12:00")))["booking_id"]
    entry = home.send(c.JoinWaitlist(actor=BOB, **slot("10:00", "12:00")))["entry_id"]
    cancel, grab, claim, join = home.race(
        c.CancelBooking(actor=ANN, booking_id=booking),
        c.BookVenue(actor=CAT, **slot("10:00", "12:00")),
        c.ClaimOffer(actor=BOB, entry_id=entry),
        c.JoinWaitlist(actor=DAN, **slot("10:00", "12:00")),
    )
    assert cancel["ok"]
    assert not grab["ok"] and grab["code"] in {"slot_taken", "slot_held", "contention"}
    if not claim["ok"]:
        assert claim["code"] in {"no_offer", "contention"}
        claim = {"ok": True, "result": home.send(c.ClaimOffer(actor=BOB, entry_id=entry))}  # offered now
    assert claim["result"]["status"] == "confirmed"
    assert join["ok"] or join["code"] in {"slot_free", "contention"}
    assert home.topics().count("waitlist.notified") == 1
    assert home.problems() == []


def test_a_claim_one_second_before_the_deadline_races_the_expiry_tick_and_one_of_them_happens(
    home: Home,
) -> None:
    entry = offered(home)
    deadline = NOW_DT + timedelta(minutes=15)
    claim, tick = home.race(
        (c.ClaimOffer(actor=BOB, entry_id=entry), deadline - timedelta(seconds=1)),
        (c.Tick(now=deadline), deadline),
    )
    topics = home.topics()
    assert claim["ok"] != ("waitlist.expired" in topics), (claim, topics)
    if not claim["ok"]:
        assert claim["code"] in {"no_offer", "contention"}
        assert topics.count("waitlist.notified") == 2, "the offer passed on to dan"
    assert tick["ok"]
    assert home.problems() == []


def test_many_processes_ticking_at_once_remind_each_booking_once(home: Home) -> None:
    bookings = [
        home.send(c.BookVenue(actor=u, **slot(f"{8 + i:02}:00", f"{9 + i:02}:00")))
        for i, u in enumerate(RACERS)
    ]
    due = datetime.fromisoformat(f"{DAY}T07:00:00+00:00") - timedelta(hours=12)
    replies = home.race(*((c.Tick(now=due), due) for _ in range(5)))
    assert all(r["ok"] for r in replies)
    assert home.topics().count("booking.reminded") == len(bookings)
    assert home.problems() == []


def test_two_processes_projecting_the_same_new_events_at_once_both_carry_on(home: Home) -> None:
    """What every race above needs underneath: two processes that settle at the same moment
    follow the same new events into the read models. The loser must notice (the position moved
    under it) and stand down, not crash its command with a duplicate-key error after the
    command was stored. Made deterministic: the other process catches up exactly between this
    one reading the tracked position and writing the rows."""
    home.send(c.BookVenue(actor=ANN, **slot("10:00", "12:00")))
    with home.open() as mine, home.open() as theirs:
        with mine.engine.begin() as db:
            db.execute(update(positions).values(position=0))  # both see every event as new
            for table in PROJECTED:
                db.execute(delete(table))
        interleaved = []

        def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if "FROM positions" in statement and not interleaved:
                interleaved.append(theirs.projector.catch_up())

        event.listen(mine.engine, "after_cursor_execute", after)
        mine.projector.catch_up()  # must not raise
        assert interleaved and interleaved[0] > 0, "the other process really went first"
        assert verify(mine.app, mine.engine) == []
