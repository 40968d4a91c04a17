"""`bookit history --emails` says which emails a mail server refused for good, and why, against
a real SMTP server that answers 554 for one recipient; `bookit check` counts a refusal as the
owed email's one record (it is not owed again), so the store still passes."""

# ruff: noqa: F811  (the fixtures are imported from the back-off tests)

from __future__ import annotations

import json
import subprocess

from faults.harness import BOOKIT
from faults.test_mail_backoff import NEVER, CountingMailhost, World, host, world  # noqa: F401
from faults.test_mail_outage import ANN, BOB, book


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [BOOKIT, "--home", str(world.home), "--now", "2026-12-01T09:05:00Z", "--json", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_history_weaves_in_a_refused_email_with_the_servers_reply(
    world: World, host: CountingMailhost
) -> None:
    host.refuse[ANN] = NEVER
    refused_booking = book(world.service, ANN)
    world.at("2026-12-01T09:01:00")
    sent_booking = book(world.service, BOB, "12:00", "13:00")

    steps = [
        json.loads(line) for line in cli(world, "history", refused_booking, "--emails").stdout.splitlines()
    ]
    [(topic, email)] = [(s["topic"], e) for s in steps for e in s["emails"]]
    assert topic == "booking.booked" and email["kind"] == "booking-confirmed"
    assert (email["recipient"], email["outcome"]) == (ANN, "refused") and "554" in email["error"]
    assert email["message_id"].endswith("@bookit>")
    text = subprocess.run(
        [BOOKIT, "--home", str(world.home), "history", refused_booking, "--emails"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    [line] = [line for line in text.splitlines() if line.startswith("\temail ")]
    assert (
        line.startswith(f"\temail booking-confirmed to {ANN} <")
        and "REFUSED at 2026-12-01T09:00:00Z: " in line
    )
    assert "554" in line

    delivered = [
        e
        for line in cli(world, "history", sent_booking, "--emails").stdout.splitlines()
        for e in json.loads(line)["emails"]
    ]
    assert [(e["recipient"], e["outcome"], e["error"]) for e in delivered] == [(BOB, "delivered", None)]

    check = cli(world, "check")
    assert check.returncode == 0, check.stdout + check.stderr
