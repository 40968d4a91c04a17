"""Hostile and malformed input at the two doors: the bus (raw kombu publishes to a real `bookit
run` worker) and the command line.

Hypothesis throws random JSON, valid commands with one field of a wrong type, 1 MB strings,
unknown command types, bytes that are not UTF-8, the `system` actor, and header injections (CR/LF
in names, addresses and free text). Every one must be refused clearly (bus: a bad_input reply
and a row in `refusals`; CLI: exit 2 or 1 and a message on stderr, never a traceback), the
worker must keep going, and no event may be written.

Example counts are modest by default; BOOKIT_FUZZ_EXAMPLES raises them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bookit import commands as c
from bookit.adapters.bus_topology import Topology
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service, bootstrap
from bookit.entrypoints.cli import main
from bookit.projections.tables import refusals
from faults.harness import BOOKIT, DAY, NOW, NOW_DT, env_int, event_count, servers

EXAMPLES = env_int("BOOKIT_FUZZ_EXAMPLES", 40)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
ANN = "ann@example.com"
SOME_ID = "6a2f41a0-0000-4000-8000-000000000001"
MEGABYTE = 1_000_000

# One valid body per public command type: the fuzz breaks exactly one thing in it.
VALID: dict[str, dict[str, Any]] = {
    "RegisterVenue": {"name": "Annex", "tz": "Europe/London"},
    "GrantAdmin": {"email": "bob@example.com"},
    "BookVenue": {"venue_id": "main-hall", "date": DAY, "start": "10:00", "end": "11:00", "purpose": "x"},
    "ConfirmBooking": {"booking_id": SOME_ID},
    "CancelBooking": {"booking_id": SOME_ID, "reason": "r"},
    "WaiveAutoCancel": {"booking_id": SOME_ID},
    "JoinWaitlist": {"venue_id": "main-hall", "date": DAY, "start": "10:00", "end": "11:00"},
    "LeaveWaitlist": {"entry_id": SOME_ID},
    "DeclineOffer": {"entry_id": SOME_ID},
    "ClaimOffer": {"entry_id": SOME_ID},
    "Tick": {"now": NOW},
}

# The fields without a default: a body without one of them is incomplete.
REQUIRED = {kind: [f for f in fields if f not in ("purpose", "reason")] for kind, fields in VALID.items()}

# Values no field of any command accepts: not a string, not a number that could be a priority.
WRONG_TYPE = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
)
INJECTION = st.sampled_from(
    ["\r\nBcc: evil@example.com", "\rX-Injected: 1", "\x00", "\x1b[31m", "\r\n\r\n<html>"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


class Huge(str):
    """A megabyte of text that shows itself briefly in a failure report."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} x {self[:1]!r}>"


def body_of(kind: str, **changes: Any) -> dict[str, Any]:
    return {"type": kind, "command_id": str(uuid4()), "actor": ANN, **VALID[kind], **changes}


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes | str | dict[str, Any]:
    kind = draw(st.sampled_from(sorted(VALID)))
    fields = ["type", "command_id", "actor", *VALID[kind]]
    way = draw(
        st.sampled_from(["json", "wrong_type", "huge", "unknown", "utf8", "system", "inject", "missing"])
    )
    if way == "json":
        value = draw(JSON)
        return value if isinstance(value, dict) and "type" not in value else json.dumps(value)
    if way == "wrong_type":
        return body_of(kind, **{draw(st.sampled_from(fields)): draw(WRONG_TYPE)})
    if way == "huge":
        char = draw(st.characters().filter(lambda ch: not ch.isspace()))  # blanks would be stripped
        return body_of(kind, **{draw(st.sampled_from(fields)): Huge(char * MEGABYTE)})
    if way == "unknown":
        return body_of(kind, type=draw(st.text(max_size=30).filter(lambda t: t not in c.PUBLIC_COMMANDS)))
    if way == "utf8":
        text = json.dumps(body_of(kind)).encode()
        cut = draw(st.integers(0, len(text)))
        return (
            text[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"]))
            + text[cut:]
        )
    if way == "system" and kind != "Tick":
        return body_of(kind, actor=SYSTEM)
    if way == "missing":
        body = body_of(kind)
        del body[draw(st.sampled_from(REQUIRED[kind] + ["type"] + (["actor"] if kind != "Tick" else [])))]
        return body
    # A header injection where text goes: a name, an address, or the free text.
    where = {
        "RegisterVenue": "name",
        "BookVenue": "purpose",
        "CancelBooking": "reason",
        "GrantAdmin": "email",
    }
    field = where.get(kind, "actor")
    return body_of(kind, **{field: str(VALID[kind].get(field, ANN)) + draw(INJECTION)})


# The bus


@pytest.fixture(scope="module")
def bus_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, servers.RawClient, Any]]:
    servers.need("127.0.0.1", 5672, "RabbitMQ")
    previous = os.environ.get("BOOKIT_BUS_PREFIX")
    os.environ["BOOKIT_BUS_PREFIX"] = f"fuzz{uuid4().hex[:12]}"
    topology = Topology.from_env()
    home = tmp_path_factory.mktemp("fuzz") / "home"
    service = bootstrap(home, clock=lambda: NOW_DT)
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    try:
        for url in servers.broker(servers.RABBITMQ, topology):
            args = ["--home", str(home), "--bus", url, "--now", NOW, "run", "--every", "3600"]
            worker = servers.WorkerProcess(args, home / "worker.log").start()
            client = servers.RawClient(url, topology)
            try:
                yield service, client, worker
            finally:
                client.close()
                worker.stop()
    finally:
        service.close()
        if previous is None:
            os.environ.pop("BOOKIT_BUS_PREFIX", None)
        else:
            os.environ["BOOKIT_BUS_PREFIX"] = previous


def refusal_count(service: Service) -> int:
    with service.engine.connect() as db:
        return int(db.execute(select(func.count()).select_from(refusals)).scalar_one())


@FUZZ
@given(body=hostile_bodies())
def test_every_hostile_message_on_the_bus_is_refused_recorded_and_writes_nothing(
    bus_world: tuple[Service, servers.RawClient, Any], body: bytes | str | dict[str, Any]
) -> None:
    service, client, worker = bus_world
    events, refused = event_count(service), refusal_count(service)
    [reply] = client.wait([client.publish(body)], timeout=60)
    assert not reply["ok"] and reply["kind"] == "bad_input", reply
    assert re.fullmatch(r"[a-z_]{3,40}", reply["code"]), reply  # e.g. invalid_command, bad_date
    assert reply["error"], "a reason"
    assert refusal_count(service) == refused + 1
    assert event_count(service) == events, "a refused command writes no event"
    assert worker.alive


def test_the_worker_still_serves_good_commands_after_the_fuzz(
    bus_world: tuple[Service, servers.RawClient, Any],
) -> None:
    service, client, worker = bus_world
    [reply] = client.wait([client.publish(body_of("BookVenue"))])
    assert reply["ok"] and reply["result"]["status"] == "booked"
    assert worker.alive


@pytest.mark.parametrize("field", ["type", "date", "actor", "purpose"])
def test_a_refusal_of_a_megabyte_field_on_the_bus_says_why_without_echoing_the_megabyte(
    bus_world: tuple[Service, servers.RawClient, Any], field: str
) -> None:
    service, client, _ = bus_world
    [reply] = client.wait([client.publish(body_of("BookVenue", **{field: Huge("7" * MEGABYTE)}))])
    assert not reply["ok"] and reply["kind"] == "bad_input"
    size = len(reply["error"])
    assert size < 5000, f"{size} characters of reason: {reply['error'][:200]}..."


# The command line


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    service = bootstrap(home, clock=lambda: NOW_DT)
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    service.close()
    return home


def stored(home: Path) -> int:
    service = bootstrap(home, clock=lambda: NOW_DT)
    try:
        return event_count(service)
    finally:
        service.close()


HOSTILE_TEXT = st.one_of(
    st.text(min_size=1, max_size=40).map(lambda t: t + "\r\nBcc: evil@example.com"),
    st.text(alphabet=st.characters(max_codepoint=31), min_size=1, max_size=5),
    st.just(Huge("x" * MEGABYTE)),
    st.just("<script>@example.com"),
    st.text(max_size=40).filter(lambda t: "@" not in t),
)


@st.composite
def hostile_argv(draw: st.DrawFn) -> list[str]:
    """A real command with one argument made hostile, so that it can only be refused."""
    good = {"--user": ANN, "--venue": "main-hall", "--date": DAY, "--start": "10:00", "--end": "11:00"}
    form = draw(st.sampled_from(["book", "join", "confirm", "cancel", "claim", "venue"]))
    if form == "venue":
        return ["venue", "add", "--name", draw(HOSTILE_TEXT), "--tz", "Mars/Base"]
    if form in ("confirm", "cancel", "claim"):
        target = draw(st.one_of(HOSTILE_TEXT, st.uuids().map(str)))  # malformed, or unknown
        user = draw(st.one_of(st.just(ANN), HOSTILE_TEXT))
        verb = ["waitlist", "claim"] if form == "claim" else [form]
        return [*verb, target, "--user", user]
    broken = draw(st.sampled_from(sorted(good)))
    args = {**good, broken: draw(HOSTILE_TEXT)}
    verb = ["book"] if form == "book" else ["waitlist", "join"]
    return [*verb, *(x for pair in args.items() for x in pair)]


@FUZZ
@given(argv=hostile_argv())
def test_every_hostile_command_line_is_refused_clearly_and_writes_nothing(
    cli_home: Path, argv: list[str]
) -> None:
    before = stored(cli_home)
    result = CliRunner().invoke(main, ["--home", str(cli_home), "--now", NOW, *argv])
    assert result.exit_code in (1, 2), (result.exit_code, result.output[:500])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.strip(), "a reason on stderr"
    assert stored(cli_home) == before


@pytest.mark.parametrize(
    "argv",
    [
        [b"book", b"--user", b"\xffann@example.com", b"--venue", b"main-hall"],
        [b"book", b"--user", b"ann@example.com", b"--venue", b"main\xffhall"],
        [b"book", b"--user", b"ann@example.com", b"--venue", b"main-hall", b"--purpose", b"caf\xe9"],
        [b"venue", b"add", b"--name", b"Hall \xff", b"--tz", b"Europe/London"],
        [b"show", b"\xff\xfe"],
        [b"history", b"ab\xffc"],
        [b"confirm", b"\xff", b"--user", b"ann@example.com"],
        [b"bookings", b"--user", b"\xff"],
        [b"waitlist", b"mine", b"--user", b"\xff"],
    ],
)
def test_bytes_that_are_not_utf8_on_the_real_command_line_get_exit_2_and_a_message(
    cli_home: Path, argv: list[bytes]
) -> None:
    slot = [b"--date", DAY.encode(), b"--start", b"10:00", b"--end", b"11:00"] if argv[0] == b"book" else []
    before = stored(cli_home)
    done = subprocess.run(
        [BOOKIT.encode(), b"--home", str(cli_home).encode(), b"--now", NOW.encode(), *argv, *slot],
        capture_output=True,
        timeout=60,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, stderr
    assert stderr.startswith("error: ") and "Traceback" not in stderr, stderr
    assert "codec" not in stderr, f"a message for Python programmers, not for the person: {stderr}"
    assert stored(cli_home) == before


@pytest.mark.parametrize("option", ["--user", "--venue", "--date", "--start", "--purpose"])
def test_a_refusal_of_a_megabyte_argument_says_why_without_echoing_the_megabyte(
    cli_home: Path, option: str
) -> None:
    args = {"--user": ANN, "--venue": "main-hall", "--date": DAY, "--start": "10:00", "--end": "11:00"}
    args[option] = "7" * MEGABYTE
    argv = ["--home", str(cli_home), "--now", NOW, "book", *(x for pair in args.items() for x in pair)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2
    size = len(result.stderr)
    assert size < 5000, f"{size} characters on stderr: {result.stderr[:200]}..."
