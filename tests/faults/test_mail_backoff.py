"""Mail back-off: a failing mail server is left alone for a while, longer after each failure.

Against a real SMTP server (aiosmtpd on a free port, as in `test_mail_outage.py`) that refuses
chosen recipients at RCPT, counting every attempt, and a fake clock: nothing here measures wall
time. The mailer waits 30 s after a failure that may pass (no connection, a timeout, a 4xx),
doubling up to 15 min (BOOKIT_MAIL_RETRY_SECONDS, BOOKIT_MAIL_RETRY_MAX_SECONDS); meanwhile
settles and ticks do not touch the server at all. A delivery resets the wait. The state is kept
in the read-model database next to the mailer's position, so a restart keeps waiting. A 554 for
one recipient is a refusal for good: that email is recorded as refused, never retried, and the
emails after it go out. DESIGN rule 5 holds either way: a reminder that did not go out (held
back, or refused) spares its booking at the deadline.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bookit import commands as c
from bookit.adapters.mail import MailDeliveryError, SmtpOutbox
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.projections import queries
from bookit.projections.tables import backoffs
from faults.harness import BOOKIT, servers
from faults.test_mail_outage import ANN, BOB, DAY, Mailhost, at, book, fate, status

CAT = "cat@example.com"
FIRST, CAP = timedelta(seconds=30), timedelta(minutes=15)
LATER = "451 4.2.1 try again later"
NEVER = "554 5.1.1 mailbox unavailable"


class CountingMailhost(Mailhost):
    """Counts each delivery attempt (one RCPT per message) and refuses chosen recipients."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply; "*" for everyone
        self.tries: Counter[str] = Counter()

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.tries[address] += 1
        refusal = self.refuse.get(address) or self.refuse.get("*")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    @property
    def total(self) -> int:
        return sum(self.tries.values())

    def sent_to(self, who: str) -> list[str]:
        return [str(m["X-BookIT-Kind"]) for m in self.received if m["To"] == who]


@dataclass
class World:
    home: Path
    clock: list[datetime]
    service: Service
    store: str = "sqlite"

    def at(self, when: str | datetime) -> None:
        self.clock[0] = at(when) if isinstance(when, str) else when

    def tick(self, when: str | datetime) -> None:
        self.at(when)
        self.service.bus.handle(c.Tick(now=self.clock[0]))

    def restart(self) -> None:
        self.service.close()
        self.service = bootstrap(self.home, self.store, clock=lambda: self.clock[0])


@pytest.fixture
def host() -> Iterator[CountingMailhost]:
    mailhost = CountingMailhost()
    mailhost.start()
    yield mailhost
    mailhost.stop()


@pytest.fixture
def world(tmp_path: Path, host: CountingMailhost, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("BOOKIT_SMTP", f"smtp://127.0.0.1:{host.port}")
    for name in ("BOOKIT_MAIL_RETRY_SECONDS", "BOOKIT_MAIL_RETRY_MAX_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    clock = [at("2026-12-01T09:00:00")]
    home = tmp_path / "home"
    w = World(home, clock, bootstrap(home, clock=lambda: clock[0]))
    w.service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    yield w
    w.service.close()


def test_after_a_failure_no_settle_tick_or_command_tries_again_before_the_first_delay(
    world: World, host: CountingMailhost
) -> None:
    host.refuse["*"] = LATER
    book(world.service, ANN)  # 09:00:00: its email is refused, try again later
    assert host.total == 1
    for second in range(1, 30):
        world.tick(f"2026-12-01T09:00:{second:02}")
    world.at("2026-12-01T09:00:29")
    assert book(world.service, BOB, "12:00", "13:00"), "commands go on while the mailer waits"
    assert host.total == 1, "30 ticks and a booking inside the first delay: the server is left alone"

    world.tick("2026-12-01T09:00:30")
    assert host.total == 2
    world.tick("2026-12-01T09:01:29")  # the delay has doubled to 60 s
    assert host.total == 2
    world.tick("2026-12-01T09:01:30")
    assert host.total == 3
    backoff = world.service.mailer.backoff
    assert backoff.failures == 3 and backoff.retry_at == at("2026-12-01T09:03:30")
    assert "451" in backoff.last_error
    assert queries.outbox(world.service.engine) == [], "nothing is recorded as sent"


def test_over_a_long_outage_attempts_stay_within_the_formula_and_resume_within_one_cap(
    world: World, host: CountingMailhost
) -> None:
    host.refuse["*"] = LATER
    start = world.clock[0]
    book(world.service, ANN)
    step, outage = timedelta(seconds=20), timedelta(hours=3)
    attempts_at = [start]
    while world.clock[0] < start + outage:
        before = host.total
        world.tick(world.clock[0] + step)
        if host.total > before:
            attempts_at.append(world.clock[0])
    attempts = len(attempts_at)
    bound = math.log2(outage / FIRST) + outage / CAP + 2
    assert outage / CAP <= attempts <= bound, attempts_at
    gaps = [b - a for a, b in zip(attempts_at, attempts_at[1:], strict=False)]
    assert gaps == sorted(gaps), "the waits never shrink during an outage"
    assert gaps[0] >= FIRST and all(gap <= CAP + step for gap in gaps)

    back = world.clock[0]
    host.refuse.clear()
    while not host.received:
        world.tick(world.clock[0] + step)
    resumed_after = world.clock[0] - back
    assert resumed_after <= CAP + step, "the first attempt after the server returns is within one cap"
    assert host.sent_to(ANN) == ["booking-confirmed"]
    print(
        f"\n3 h outage, ticks every 20 s: {attempts} attempts (bound {bound:.1f}), "
        f"gaps {[int(g.total_seconds()) for g in gaps]} s; "
        f"delivered {resumed_after} after the server returned"
    )


def test_a_delivery_resets_the_delay(world: World, host: CountingMailhost) -> None:
    host.refuse["*"] = LATER
    book(world.service, ANN)  # fails at 09:00:00, then 09:00:30, then 09:01:30: next at 09:03:30
    world.tick("2026-12-01T09:00:30")
    world.tick("2026-12-01T09:01:30")
    assert world.service.mailer.backoff.failures == 3
    host.refuse.clear()
    world.tick("2026-12-01T09:03:30")
    assert host.sent_to(ANN) == ["booking-confirmed"]
    assert world.service.mailer.backoff.failures == 0
    with world.service.engine.connect() as conn:
        assert conn.execute(select(backoffs)).all() == [], "no back-off row once mail flows"

    host.refuse["*"] = LATER
    world.at("2026-12-01T09:04:00")
    book(world.service, BOB, "12:00", "13:00")
    tries = host.total
    world.tick("2026-12-01T09:04:29")
    assert host.total == tries, "the wait starts over at the first delay"
    world.tick("2026-12-01T09:04:30")
    assert host.total == tries + 1


def test_the_back_off_survives_a_restart(world: World, host: CountingMailhost) -> None:
    host.refuse["*"] = LATER
    book(world.service, ANN)
    world.tick("2026-12-01T09:00:30")  # second failure: next attempt at 09:01:30
    assert host.total == 2

    world.restart()
    world.at("2026-12-01T09:01:00")
    world.service.bus.settle(world.clock[0])  # what a restarted worker does first
    world.tick("2026-12-01T09:01:29")
    assert host.total == 2, "a restarted mailer keeps waiting"
    backoff = world.service.mailer.backoff
    assert (backoff.failures, backoff.retry_at) == (2, at("2026-12-01T09:01:30"))
    assert backoff.failing_since == at("2026-12-01T09:00:00") and "451" in backoff.last_error

    world.tick("2026-12-01T09:01:30")
    assert host.total == 3
    assert world.service.mailer.backoff.retry_at == at("2026-12-01T09:03:30"), "and keeps counting"


def test_the_delays_are_configuration(
    world: World, host: CountingMailhost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKIT_MAIL_RETRY_SECONDS", "5")
    monkeypatch.setenv("BOOKIT_MAIL_RETRY_MAX_SECONDS", "12")
    world.restart()
    host.refuse["*"] = LATER
    book(world.service, ANN)  # 09:00:00
    attempt_seconds = [0]
    for second in range(1, 60):
        before = host.total
        world.tick(f"2026-12-01T09:00:{second:02}")
        if host.total > before:
            attempt_seconds.append(second)
    assert attempt_seconds == [0, 5, 15, 27, 39, 51], "5 s, 10 s, then the 12 s cap"


def test_a_554_for_one_recipient_does_not_hold_back_the_emails_after_it(
    world: World, host: CountingMailhost, caplog: pytest.LogCaptureFixture
) -> None:
    host.refuse[ANN] = NEVER
    book(world.service, ANN)
    world.at("2026-12-01T09:01:00")
    book(world.service, BOB, "12:00", "13:00")
    assert host.sent_to(BOB) == ["booking-confirmed"], "BOB's email is not stuck behind ANN's"
    assert world.service.mailer.backoff.failures == 0, "a refusal for good is no reason to wait"

    refused = world.service.mailer.refused()
    assert [(r["kind"], r["recipient"]) for r in refused] == [("booking-confirmed", ANN)]
    assert "554" in refused[0]["error"] and refused[0]["refused_at"] == "2026-12-01T09:00:00Z"
    assert "refused for good" in caplog.text
    assert [r["recipient"] for r in queries.outbox(world.service.engine)] == [BOB], "only what went out"

    for hour in range(10, 14):
        world.tick(f"2026-12-01T{hour}:00:00")
    assert host.tries[ANN] == 1, "never retried"


def test_the_outbox_command_lists_refused_emails_and_warns_while_mail_is_held_back(
    world: World, host: CountingMailhost
) -> None:
    host.refuse[ANN] = NEVER
    book(world.service, ANN)
    host.refuse["*"] = LATER
    world.at("2026-12-01T09:01:00")
    book(world.service, BOB, "12:00", "13:00")

    def outbox(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [BOOKIT, "--home", str(world.home), "--now", "2026-12-01T09:01:10Z", "--json", "outbox", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)

    refused = [json.loads(line) for line in outbox("--refused").stdout.splitlines()]
    assert [(r["kind"], r["recipient"]) for r in refused] == [("booking-confirmed", ANN)]
    assert "554" in refused[0]["error"]
    held_back = outbox()
    assert held_back.stdout == "", "nothing went out"
    assert held_back.stderr.startswith("warning: mail delivery has failed 1 time(s)")
    assert "next attempt at 2026-12-01T09:01:30Z" in held_back.stderr and "451" in held_back.stderr


def test_an_event_owing_several_emails_is_not_sent_twice_to_those_it_reached(
    world: World, host: CountingMailhost
) -> None:
    booking = book(world.service, ANN)
    world.service.bus.handle(c.ConfirmBooking(actor=ANN, booking_id=booking))
    for who in (BOB, CAT):  # the slot is taken: both queue, in this order
        world.service.bus.handle(
            c.JoinWaitlist(actor=who, venue_id="main-hall", date=DAY, start="10:00", end="11:00")
        )
    host.refuse[CAT] = LATER
    world.tick(f"{DAY}T10:00:00")  # the slot starts: its queue closes, both are told
    assert host.sent_to(BOB) == ["waitlist-closed"] and host.sent_to(CAT) == []
    host.refuse.clear()
    world.tick(f"{DAY}T10:01:00")
    assert host.sent_to(BOB) == ["waitlist-closed"], "BOB is not told twice"
    assert host.sent_to(CAT) == ["waitlist-closed"]
    assert set(host.message_ids().values()) == {1}


@pytest.mark.parametrize("refusal", [LATER, NEVER], ids=["held-back", "refused-for-good"])
def test_rule_05_a_reminder_that_did_not_go_out_spares_its_booking(
    world: World, host: CountingMailhost, refusal: str
) -> None:
    host.refuse[ANN] = refusal
    booking = book(world.service, ANN)
    world.at("2026-12-01T09:05:00")
    other = book(world.service, BOB, "12:00", "13:00")  # BOB's mail is accepted
    for hour in range(0, 24):
        world.tick(f"2026-12-02T{hour:02}:00:00")  # ANN's reminder falls due at 10:00, BOB's at 12:00
    for hour in range(0, 11):
        world.tick(f"{DAY}T{hour:02}:00:00")  # ANN's deadline at 08:00, BOB's at 10:00

    assert fate(world.service, booking)[-1] == ("booking.auto_cancel_skipped", "reminder was never delivered")
    assert status(world.service, booking) == "booked"
    assert "reminder" not in host.sent_to(ANN)
    if refusal == NEVER:
        # Nothing waited behind ANN's refusal: BOB was reminded in time, did not confirm, and
        # is auto-cancelled at his deadline as usual.
        assert status(world.service, other) == "auto_cancelled"
        assert host.sent_to(BOB) == ["booking-confirmed", "reminder", "auto-cancelled"]
    else:
        # A 4xx may pass, so every later email waits behind it; BOB too was never reminded.
        assert status(world.service, other) == "booked"


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("RCPT", LATER, False),
        ("RCPT", NEVER, True),
        ("DATA", "451 4.3.0 try again later", False),
        ("DATA", "554 5.7.1 message rejected", True),
    ],
)
def test_the_smtp_outbox_tells_a_refusal_for_good_from_one_that_may_pass(
    host: CountingMailhost, stage: str, reply: str, permanent: bool
) -> None:
    if stage == "RCPT":
        host.refuse[ANN] = reply
    else:
        host.refusal = reply
    message = EmailMessage()
    message["From"], message["To"], message["Message-ID"] = "bookit@example.com", ANN, "<classify@bookit>"
    message["Subject"] = "booking-confirmed"
    message.set_content("Hi")
    with pytest.raises(MailDeliveryError) as caught:
        SmtpOutbox(f"smtp://127.0.0.1:{host.port}", timeout=5).deliver(message)
    assert caught.value.permanent is permanent
    assert reply.split()[0] in caught.value.reason


def test_on_postgresql_the_back_off_and_the_refusals_are_kept_too(
    tmp_path: Path, host: CountingMailhost, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers.need("127.0.0.1", 5432, "PostgreSQL")
    monkeypatch.setenv("BOOKIT_SMTP", f"smtp://127.0.0.1:{host.port}")
    clock = [at("2026-12-01T09:00:00")]
    for store in servers.fresh_database():
        w = World(tmp_path / "pg", clock, bootstrap(tmp_path / "pg", store, clock=lambda: clock[0]), store)
        try:
            w.service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
            host.refuse.update({"*": LATER, BOB: NEVER})
            book(w.service, ANN)
            w.tick("2026-12-01T09:00:30")  # two failures in a row: the upsert overwrites the row
            w.restart()
            w.tick("2026-12-01T09:01:29")
            assert host.total == 2 and w.service.mailer.backoff.failures == 2
            host.refuse.pop("*")
            w.tick("2026-12-01T09:01:30")
            assert host.sent_to(ANN) == ["booking-confirmed"] and w.service.mailer.backoff.failures == 0
            book(w.service, BOB, "12:00", "13:00")
            assert [r["recipient"] for r in w.service.mailer.refused()] == [BOB]
        finally:
            w.service.close()
