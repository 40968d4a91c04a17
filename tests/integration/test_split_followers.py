"""The followers in a process of their own (`bookit run --followers-only`, `--commands-only`,
`--processes N`), on a real RabbitMQ with real worker processes.

What a user would notice: every command answered once; once answered, the booking is in the
read models and its email in the Maildir (the replies wait for the followers process); with
the followers process gone, replies still come (their events are stored) and a followers
process started again, after one was killed while catching up, ends with every read model row
and every email exactly once.
"""

# Fixtures come from servers.py by import (this folder has no conftest of its own), so a test's
# parameter "redefines" an imported name.
# ruff: noqa: F811

from __future__ import annotations

import mailbox
import os
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import (  # noqa: F401  (fixtures are used by name)
    NOW,
    RawClient,
    WorkerProcess,
    book_body,
    bookit,
    client,
    home,
    pg_store,
    rabbitmq,
    store,
    topology,
    wait_until,
)

from bookit import commands as c
from bookit.bootstrap import Service, bootstrap
from bookit.projections import queries
from bookit.settled import settled_position

TICK_AT = "2026-12-02T20:00:00+00:00"  # every booking on DAY is 24 h away or less: reminders due


@pytest.fixture
def bus_url(rabbitmq: str) -> str:
    return rabbitmq


def slots(count: int, first: int = 0) -> list[tuple[str, str]]:
    """Distinct quarter-hour slots of the day, so no booking refuses another."""
    return [
        (f"{6 + n // 4:02d}:{n % 4 * 15:02d}", f"{6 + n // 4:02d}:{n % 4 * 15 + 10:02d}")
        for n in range(first, first + count)
    ]


def send_bookings(client: RawClient, count: int, first: int = 0) -> list[str]:
    """Book `count` slots over the bus; the booking ids, once every reply has come."""
    sent = [
        client.publish(book_body(f"u{first + n}@example.com", *slot))
        for n, slot in enumerate(slots(count, first))
    ]
    replies = client.wait(sent)
    assert all(reply["ok"] for reply in replies), [r for r in replies if not r["ok"]][:1]
    client.drain(0.5)  # a second reply to any of them would have come by now
    assert all(len(client.replies[cid]) == 1 for cid in sent)
    return [reply["result"]["booking_id"] for reply in replies]


def emails_by_kind(home: Path) -> Counter[tuple[str, str]]:
    """(kind, booking id) of every email in the Maildir, counted: a duplicate shows as 2."""
    box = mailbox.Maildir(home / "outbox", create=False)
    return Counter((m["X-BookIT-Kind"], m["X-BookIT-Booking"]) for m in box)


def projected(service: Service, ids: list[str]) -> list[str]:
    return [booking_id for booking_id in ids if queries.booking(service.engine, booking_id) is not None]


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `bookit <global options> run --every 3600 <run options>`; all stopped at the end."""
    started: list[WorkerProcess] = []

    def start(*options: str, run: tuple[str, ...] = ()) -> WorkerProcess:
        args = [*options, "run", "--every", "3600", *run]
        process = WorkerProcess(args, tmp_path / f"process{len(started)}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def child_pid(parent: WorkerProcess, name: str) -> int:
    found = re.search(rf"started the {name} \(pid (\d+)\)", parent.output())
    assert found, parent.output()
    return int(found.group(1))


def assert_projected_and_mailed_once(service: Service, home: Path, booked: list[str]) -> None:
    """Every booking in the read models and its confirmation in the Maildir, each exactly once."""
    assert projected(service, booked) == booked
    emails = emails_by_kind(home)
    assert sorted(booking for kind, booking in emails if kind == "booking-confirmed") == sorted(booked)
    assert set(emails.values()) == {1}


def test_two_processes_answer_once_and_a_reply_means_its_booking_and_email_are_there(
    rabbitmq: str, home: Path, store: Service, client: RawClient, runs: Callable[..., WorkerProcess]
) -> None:
    parent = runs("--home", str(home), "--bus", rabbitmq, "--now", NOW, run=("--processes", "2"))
    wait_until(lambda: "consuming from" in parent.output(), "the command worker to consume")

    booked = send_bookings(client, 40)

    # The replies waited for the followers process: nothing left to wait for.
    assert_projected_and_mailed_once(store, home, booked)

    # A tick sent over the bus lands on the command worker, which waits for the followers:
    # one reminder each, and each delivery recorded on its booking.
    tick = client.wait([client.publish(c.Tick(now=TICK_AT).model_dump(mode="json"))])[0]
    assert tick["ok"] and tick["result"]["handled"] == len(booked), tick
    emails = emails_by_kind(home)
    assert sorted(booking for kind, booking in emails if kind == "reminder") == sorted(booked)
    assert set(emails.values()) == {1}
    # ... and what the followers' commands caused is in the read models too.
    assert all((queries.booking(store.engine, b) or {}).get("reminder_delivered_at") for b in booked)

    # A child that dies is reported, and the others are stopped with it.
    followers = child_pid(parent, "followers")
    worker = child_pid(parent, "command worker 1")

    os.kill(followers, signal.SIGKILL)
    assert parent.proc is not None
    assert parent.proc.wait(timeout=30) == 1
    assert f"the followers (pid {followers}) exited with signal SIGKILL" in parent.output()
    wait_until(lambda: not Path(f"/proc/{worker}").exists(), "the command worker to stop with it")


def test_without_followers_replies_still_come_and_a_restarted_followers_process_catches_up_once(
    rabbitmq: str, home: Path, store: Service, client: RawClient, runs: Callable[..., WorkerProcess]
) -> None:
    base = ("--home", str(home), "--bus", rabbitmq, "--now", NOW)
    commands = runs(*base, run=("--commands-only", "--follow-wait", "0.5"))
    wait_until(lambda: "consuming from" in commands.output(), "the command worker to consume")

    # More events than the mailer takes in one page (200), so a kill can land between pages.
    booked = send_bookings(client, 70)

    # Stored, answered once, and honestly not yet followed: no followers process runs.
    assert projected(store, booked) == []
    assert "have not passed event" in commands.output()

    # A followers process killed as soon as its first emails are out (while it catches up, or
    # just after), then started again: nothing lost or doubled.
    first = runs(*base, run=("--followers-only",))
    wait_until(lambda: len(emails_by_kind(home)) > 0, "the followers to start mailing")
    first.kill(signal.SIGKILL)
    again = runs(*base, run=("--followers-only",))
    wait_until(lambda: "BookIT followers on" in again.output(), "the followers process to start again")
    last = store.app.recorder.max_notification_id()
    wait_until(lambda: settled_position(store.engine) >= last, "the followers to settle everything")

    assert projected(store, booked) == booked
    emails = emails_by_kind(home)
    assert sorted(booking for kind, booking in emails if kind == "booking-confirmed") == sorted(booked)
    assert set(emails.values()) == {1}

    # Caught up, the followers are waited for again: a new reply means its booking is there.
    (later,) = send_bookings(client, 1, first=70)
    assert projected(store, [later]) == [later]
    assert commands.alive


def test_split_roles_on_postgresql_answer_once_and_follow_everything(
    rabbitmq: str, tmp_path: Path, pg_store: str, client: RawClient, runs: Callable[..., WorkerProcess]
) -> None:
    home = tmp_path / "pg-home"
    service = bootstrap(home, pg_store)
    service.bus.handle(c.RegisterVenue(actor="system", name="Main Hall", tz="Europe/London"))
    try:
        base = ("--home", str(home), "--store", pg_store, "--bus", rabbitmq, "--now", NOW)
        runs(*base, run=("--followers-only",))
        commands = runs(*base, run=("--commands-only",))
        wait_until(lambda: "consuming from" in commands.output(), "the command worker to consume")

        booked = send_bookings(client, 40)

        assert_projected_and_mailed_once(service, home, booked)
    finally:
        service.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--commands-only"], "--commands-only takes commands from a broker"),
        (["run", "--processes", "2"], "--processes takes commands from a broker"),
        (["--bus", "amqp://x//", "run", "--followers-only", "--commands-only"], "exclude each other"),
        (["--bus", "amqp://x//", "run", "--processes", "2", "--followers-only"], "give it alone"),
    ],
)
def test_run_roles_that_make_no_sense_are_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    done = bookit("--home", str(tmp_path), *args)
    assert done.returncode == 2
    assert message in done.stderr
