"""Crash anywhere: SIGKILL a worker at seeded points while commands and ticks flow, restart it,
and the world is the one an uncrashed run makes.

A "client" sends a seeded script of commands and ticks to a worker on the embedded store (the
local bus in a forked process). The worker writes each reply to a journal only after
`bus.handle` returns; a command whose reply never made it into the journal is sent again with
the same command_id after the restart, as any client that got no answer would. The worker
kills itself with SIGKILL at the Nth I/O boundary it crosses (N seeded; see
`harness.CrashPoints`): inside a read-model transaction, between the event store's commit and
the projections, between a Maildir delivery and its record, before a follow-up command.

Afterwards, against a run of the same script that was never killed: the same history for
every aggregate (topics, versions, data, timestamps), the same replies, the same Message-IDs
in the Maildir, each once; and every DESIGN.md invariant, `replay --verify` included.

BOOKIT_FAULT_RUNS (default 6) scripts are run, each killed up to BOOKIT_FAULT_KILLS (default
3) times. The PostgreSQL + RabbitMQ variant, with a real `bookit run` killed from outside, is
the last test here.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, derived_id
from bookit.bootstrap import bootstrap
from bookit.errors import BookitError
from bookit.event_data import fields_of
from faults.harness import (
    NOW,
    NOW_DT,
    ConfirmedClient,
    CrashPoints,
    all_problems,
    env_int,
    event_count,
    in_child,
    maildir_message_ids,
    postgres_and_rabbitmq,
    replies_problems,
    servers,
    stored_events,
)

VENUE = "main-hall"
TZ = "Europe/London"
TODAY = "2026-12-01"
USERS = [f"u{i}@example.com" for i in range(4)]
DAYS = ["2026-12-02", "2026-12-03"]
SLOTS = [("10:00", "11:00"), ("10:30", "11:30"), ("14:00", "16:00"), ("18:00", "19:00")]
TICK_STEPS = [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=4), timedelta(hours=9)]
FINAL_TICK = NOW_DT + timedelta(days=3)  # every slot has started: all due work is done
RUNS = env_int("BOOKIT_FAULT_RUNS", 6)
KILLS = env_int("BOOKIT_FAULT_KILLS", 3)
LENGTH = env_int("BOOKIT_FAULT_STEPS", 30)


@dataclass(frozen=True)
class Step:
    at: datetime
    command: c.Command


def script(seed: int, length: int = LENGTH) -> list[Step]:
    """A plausible day of traffic: bookings that collide, confirmations, cancellations that free
    slots for the queue, claims and declines, and ticks that pass reminder and cancel deadlines."""
    rng = random.Random(seed)
    now = NOW_DT
    bookings: list[tuple[str, str]] = []
    entries: list[tuple[str, str]] = []
    slots: list[tuple[str, str, str]] = []
    steps = []
    for i in range(length):
        cid = derived_id("crash-script", seed, i)
        user, roll = rng.choice(USERS), rng.random()
        cmd: c.Command
        if roll < 0.35 or not bookings:
            day, (start, end) = rng.choice(DAYS), rng.choice(SLOTS)
            cmd = c.BookVenue(
                command_id=cid, actor=user, venue_id=VENUE, date=day, start=start, end=end, purpose=f"#{i}"
            )
            bookings.append((str(derived_id("booking", cid)), user))
            slots.append((day, start, end))
        elif roll < 0.45:
            booking_id, owner = rng.choice(bookings)
            cmd = c.ConfirmBooking(command_id=cid, actor=owner, booking_id=booking_id)
        elif roll < 0.55:
            booking_id, owner = rng.choice(bookings)
            cmd = c.CancelBooking(command_id=cid, actor=owner, booking_id=booking_id)
        elif roll < 0.70:
            day, start, end = rng.choice(slots)
            cmd = c.JoinWaitlist(command_id=cid, actor=user, venue_id=VENUE, date=day, start=start, end=end)
            entries.append((str(derived_id("waitlist-entry", cid)), user))
        elif roll < 0.80 and entries:
            entry_id, owner = rng.choice(entries)
            cmd = c.ClaimOffer(command_id=cid, actor=owner, entry_id=entry_id)
        elif roll < 0.85 and entries:
            entry_id, owner = rng.choice(entries)
            cmd = c.DeclineOffer(command_id=cid, actor=owner, entry_id=entry_id)
        else:
            now += rng.choice(TICK_STEPS)
            cmd = c.Tick(command_id=cid, now=now)
        steps.append(Step(now, cmd))
    steps.append(Step(FINAL_TICK, c.Tick(command_id=derived_id("crash-script", seed, "end"), now=FINAL_TICK)))
    return steps


def prepare(home: Path) -> None:
    service = bootstrap(home, clock=lambda: NOW_DT)
    venue = c.RegisterVenue(command_id=derived_id("venue"), actor=SYSTEM, name="Main Hall", tz=TZ)
    service.bus.handle(venue)
    service.close()  # nothing open across the fork


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Replies the client received; a line torn by the kill was never received."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break
    return out


def life(home: Path, steps: list[Step], points: CrashPoints, count_to: Path | None = None) -> None:
    """One life of the worker: catch up, then take the script from the first unanswered step."""
    journal = home / "journal.jsonl"
    first = len(read_journal(journal))
    clock = [steps[min(first, len(steps) - 1)].at]
    service = bootstrap(home, clock=lambda: clock[0])
    points.install(service)
    service.bus.settle(clock[0])  # a restarted worker first lets projections and mail catch up
    with journal.open("a") as out:
        for i in range(first, len(steps)):
            clock[0] = steps[i].at
            try:
                reply: dict[str, Any] = {"ok": True, "result": service.bus.handle(steps[i].command)}
            except BookitError as error:
                reply = {"ok": False, "code": error.code, "error": error.message}
            out.write(json.dumps({"step": i, "reply": reply}, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
    if count_to is not None:
        count_to.write_text(str(points.count))
    service.close()


def history(home: Path) -> tuple[list[tuple[Any, ...]], list[Any], Any]:
    service = bootstrap(home, clock=lambda: NOW_DT)
    try:
        events = [
            (e.TOPIC, str(e.originator_id), e.originator_version, e.timestamp, fields_of(e))
            for e in stored_events(service)
        ]
        journal = read_journal(home / "journal.jsonl")
        # A tick's counts depend on how much of its work a crash had already done; not compared.
        replies = [(r["step"], r["reply"]) for r in journal if "now" not in str(r["reply"])]
        return events, replies, maildir_message_ids(home)
    finally:
        service.close()


def by_aggregate(event: tuple[Any, ...]) -> tuple[str, int]:
    return event[1], event[2]


def first_difference(a: list[Any], b: list[Any]) -> str:
    missing = [x for x in a if x not in b]
    extra = [x for x in b if x not in a]
    if missing or extra:
        return f"only uncrashed: {missing[:3]}\n      only crashed: {extra[:3]}"
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"#{i}: uncrashed {x}\n      crashed   {y}"
    return f"lengths {len(a)} (uncrashed) and {len(b)} (crashed)"


def crash_run(tmp: Path, seed: int, kills: int) -> dict[str, Any]:
    steps = script(seed)
    reference, crashed, log = tmp / f"ref{seed}", tmp / f"crash{seed}", tmp / f"child{seed}.log"
    prepare(reference)
    prepare(crashed)
    count = tmp / f"count{seed}"
    uncrashed = in_child(lambda: life(reference, steps, CrashPoints(None), count), log)
    assert uncrashed == ("exit", 0), log.read_text()
    boundaries = int(count.read_text())

    rng, killed, at = random.Random(seed), 0, []
    while True:
        target = rng.randint(1, boundaries) if killed < kills else None
        outcome = in_child(lambda t=target: life(crashed, steps, CrashPoints(t)), log)
        if outcome == ("exit", 0):
            break
        assert outcome == ("killed", signal.SIGKILL), log.read_text() if log.exists() else outcome
        killed += 1
        at.append(target)

    ref_events, ref_replies, ref_mail = history(reference)
    events, replies, mail = history(crashed)
    # Each aggregate's history must be the same, event for event. Across aggregates the log may
    # interleave differently: a restarted worker first delivers the mail it owed, then ticks on.
    ref_events, events = sorted(ref_events, key=by_aggregate), sorted(events, key=by_aggregate)
    assert events == ref_events, f"seed {seed}, killed at {at}: " + first_difference(ref_events, events)
    assert replies == ref_replies, f"seed {seed}: " + first_difference(ref_replies, replies)
    assert mail == ref_mail and set(mail.values()) <= {1}, f"seed {seed}: mail differs"
    service = bootstrap(crashed, clock=lambda: NOW_DT)
    try:
        assert all_problems(service) == [], f"seed {seed}, killed at {at}"
    finally:
        service.close()
    return {"killed": killed, "boundaries": boundaries, "events": len(events), "emails": len(mail)}


@pytest.fixture(autouse=True)
def same_link_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKIT_SECRET", "crash-test-secret-0123456789")


def test_killed_at_seeded_points_a_restarted_worker_ends_exactly_where_an_uncrashed_one_does(
    tmp_path: Path,
) -> None:
    base = env_int("BOOKIT_FAULT_SEED", 1)
    started, totals = time.monotonic(), {"killed": 0, "events": 0, "emails": 0}
    failures = []
    for seed in range(base, base + RUNS):
        try:
            figures = crash_run(tmp_path, seed, KILLS)
        except AssertionError as failure:  # go on: a long run reports every seed that failed
            failures.append(str(failure).splitlines()[0][:400])
            continue
        for key in totals:
            totals[key] += figures[key]
    print(
        f"\ncrash-anywhere: {RUNS} scripts, {len(failures)} failed, {totals['killed']} SIGKILLs, "
        f"{totals['events']} events, {totals['emails']} emails, {time.monotonic() - started:.1f}s"
    )
    assert not failures, "\n".join(failures)
    assert totals["killed"] >= RUNS, "the seeded points must really kill the worker"


def test_a_reminder_delivered_just_before_a_crash_is_still_recorded_on_its_booking(
    tmp_path: Path,
) -> None:
    """The narrowest window of the chain: the reminder email is in the Maildir and recorded as
    sent, and the worker dies before it tells the booking. After the restart the booking must
    still know its owner was reminded (DESIGN rule 5), so it is auto-cancelled exactly as in a
    run that never crashed, and not spared as "reminder was never delivered"."""
    book = c.BookVenue(actor=USERS[0], venue_id=VENUE, date=DAYS[1], start="10:00", end="11:00")
    reminder_due = datetime.fromisoformat("2026-12-02T10:00:00+00:00")
    steps = [
        Step(NOW_DT, book),
        Step(reminder_due, c.Tick(now=reminder_due)),
        Step(FINAL_TICK, c.Tick(now=FINAL_TICK)),
    ]

    class DieBeforeRecordingDelivery(CrashPoints):
        def install(self, service: Any) -> None:
            handle = service.app.handle

            def handling(command: c.Command, now: datetime) -> Any:
                if isinstance(command, c.RecordReminderDelivery):
                    os.kill(os.getpid(), signal.SIGKILL)
                return handle(command, now)

            service.app.handle = handling

    reference, crashed, log = tmp_path / "ref", tmp_path / "crashed", tmp_path / "child.log"
    for home in (reference, crashed):
        prepare(home)
    assert in_child(lambda: life(reference, steps, CrashPoints(None)), log) == ("exit", 0)
    assert in_child(lambda: life(crashed, steps, DieBeforeRecordingDelivery(None)), log) == (
        "killed",
        signal.SIGKILL,
    )
    assert in_child(lambda: life(crashed, steps, CrashPoints(None)), log) == ("exit", 0), log.read_text()

    def fate(home: Path) -> list[str]:
        events, _, _ = history(home)
        return [topic for topic, *_ in events if topic.startswith("booking.")]

    assert fate(reference) == [
        "booking.booked",
        "booking.reminded",
        "booking.reminder_delivered",
        "booking.auto_cancelled",
    ]
    assert fate(crashed) == fate(reference)


# The same through the real thing: `bookit --bus amqp://… --store postgresql://… run`, killed
# from outside at seeded moments while a client keeps publishing commands and ticks.

BUS_KILLS = env_int("BOOKIT_FAULT_BUS_KILLS", 3)


def bus_script(seed: int, length: int) -> list[dict[str, Any]]:
    """Bodies for the bus: bookings that collide and are reminded at once (under 24 h ahead),
    confirmations, cancellations that offer the slot, claims; ticks that pass the deadlines."""
    rng = random.Random(seed)
    bodies: list[dict[str, Any]] = []
    bookings: list[tuple[str, str]] = []
    entries: list[tuple[str, str]] = []
    for i in range(length):
        cid = derived_id("bus-crash", seed, i)
        user, roll = rng.choice(USERS), rng.random()
        cmd: c.Command
        if roll < 0.4 or not bookings:
            start = rng.choice(["15:00", "16:00", "17:00"])
            end = f"{int(start[:2]) + 1}:00"
            cmd = c.BookVenue(command_id=cid, actor=user, venue_id=VENUE, date=TODAY, start=start, end=end)
            bookings.append((str(derived_id("booking", cid)), user))
        elif roll < 0.5:
            booking_id, owner = rng.choice(bookings)
            cmd = c.ConfirmBooking(command_id=cid, actor=owner, booking_id=booking_id)
        elif roll < 0.6:
            booking_id, owner = rng.choice(bookings)
            cmd = c.CancelBooking(command_id=cid, actor=owner, booking_id=booking_id)
        elif roll < 0.75:
            start = rng.choice(["15:00", "16:00", "17:00"])
            end = f"{int(start[:2]) + 1}:00"
            cmd = c.JoinWaitlist(command_id=cid, actor=user, venue_id=VENUE, date=TODAY, start=start, end=end)
            entries.append((str(derived_id("waitlist-entry", cid)), user))
        elif roll < 0.9 and entries:
            entry_id, owner = rng.choice(entries)
            cmd = c.ClaimOffer(command_id=cid, actor=owner, entry_id=entry_id)
        else:
            cmd = c.Tick(command_id=cid, now=NOW_DT)  # catch-up ticks while commands flow
        bodies.append(cmd.model_dump(mode="json"))
    for k, hour in enumerate(("13:30", "14:30", "18:30")):  # cancel deadlines, then every start
        cid = derived_id("bus-crash", seed, "tick", k)
        bodies.append(c.Tick(command_id=cid, now=f"2026-12-01T{hour}:00+00:00").model_dump(mode="json"))
    return bodies


@pytest.fixture
def pg_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BOOKIT_BUS_PREFIX", f"crash{uuid4().hex[:12]}")
    home = tmp_path / "home"
    for url, store, topology in postgres_and_rabbitmq(home):
        service = bootstrap(home, store, clock=lambda: NOW_DT)
        yield url, store, home, topology, service
        service.close()


def test_a_bus_worker_on_postgresql_killed_from_outside_loses_nothing_and_doubles_nothing(
    pg_world: Any,
) -> None:
    url, store, home, topology, service = pg_world
    seed = env_int("BOOKIT_FAULT_SEED", 1)
    rng = random.Random(seed)
    args = ["--home", str(home), "--store", store, "--bus", url, "--now", NOW, "run", "--every", "3600"]
    client = ConfirmedClient(url, topology)
    bodies = bus_script(seed, env_int("BOOKIT_FAULT_BUS_STEPS", 60))
    worker = servers.WorkerProcess(args, home / "worker.log").start()
    kills: list[int] = []
    # The script goes out a slice before each kill, so that a kill finds work in flight however
    # fast the worker is (a batching worker can finish all of it before a third kill otherwise).
    cut = [len(bodies) * k // (BUS_KILLS + 1) for k in range(BUS_KILLS + 2)]
    slices = [bodies[a:b] for a, b in zip(cut, cut[1:], strict=False)]
    sent: list[str] = []
    try:
        for part in slices[:-1]:
            sent += [client.publish(body) for body in part]
            # Mid-stream: after a seeded number of new events, plus a seeded sliver of time (where
            # exactly that lands is up to the machine, which is the point). A slice that ends
            # sooner (every command sent has its reply waiting) is killed at rest instead.
            floor, answered = event_count(service) + rng.randint(2, 12), len(sent)
            try:
                servers.wait_until(
                    lambda f=floor, n=answered: event_count(service) >= f or client.replies_waiting() >= n,
                    "the worker to make progress",
                    60,
                )
            except AssertionError as failure:
                raise AssertionError(f"{failure} (kills {kills}); log:\n{worker.output()[-3000:]}") from None
            time.sleep(rng.uniform(0, 0.2))
            worker.kill(signal.SIGKILL)
            kills.append(event_count(service))
            worker = servers.WorkerProcess(args, home / "worker.log").start()
        sent += [client.publish(body) for body in slices[-1]]
        try:
            replies = client.collect(set(sent), timeout=120)
        except AssertionError as failure:
            raise AssertionError(f"{failure}; worker log:\n{worker.output()[-3000:]}") from None
    finally:
        worker.stop()
        client.close()

    assert all(len(set(map(json.dumps, client.replies[cid]))) == 1 for cid in sent), "a reply changed"
    assert replies_problems(service, replies) == []
    assert all_problems(service, contiguous=False) == [], worker.output()[-3000:]
    accepted = sum(r["ok"] for r in replies.values())
    total = event_count(service)
    print(f"\nbus crash: {len(sent)} commands, {accepted} accepted, killed at events {kills} of {total}")
