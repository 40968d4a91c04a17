"""DESIGN.md rule 10, exhaustively: every public command against every role, one table.

"Only the owner confirms, cancels, claims or leaves; only an admin overrides or sets a waitlist
priority." Registering venues and granting the admin role are for admins (and the local
operator, who is not on the bus). Anyone may join a waitlist for themselves; only an admin may
put someone else in a queue. The `system` actor is the clock's and the operator's name: on the
bus nobody may claim it, so it is bad input there whatever the command.

Roles: the OWNER of the booking or waitlist entry the command is about; OTHER, a user with
bookings of their own; ADMIN; UNKNOWN, an address BookIT has never seen; SYSTEM over the bus.
Every cell runs on its own copy of one prepared world, through the bus worker's entry point
(JSON in, reply out). A refused cell must also leave the store exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM, derived_id
from bookit.bootstrap import bootstrap
from bookit.entrypoints.bus_worker import CommandWorker
from faults.harness import DAY, NOW_DT, event_count

OWNER, OTHER, ADMIN, UNKNOWN = (
    "own@example.com",
    "oth@example.com",
    "adm@example.com",
    "nobody@unseen.example",
)
ROLES = {"owner": OWNER, "other": OTHER, "admin": ADMIN, "unknown": UNKNOWN, "system": SYSTEM}
HOLDER = "hal@example.com"

OK = "ok"
NOT_OWNER = "refused:not_owner"
NOT_ADMIN = "refused:not_admin"
SYSTEM_ON_BUS = "bad_input:invalid_command"


def cid(name: str) -> str:
    return str(derived_id("authz", name))


BOOKING = str(derived_id("booking", cid("own-books")))
ENTRY = str(derived_id("waitlist-entry", cid("own-joins")))
SLOT = {"venue_id": "main-hall", "date": DAY}

# command -> (fields, expected outcome per role: owner, other, admin, unknown, system)
MATRIX: dict[str, tuple[str, dict[str, Any], tuple[str, str, str, str, str]]] = {
    "book": ("BookVenue", {**SLOT, "start": "18:00", "end": "19:00"}, (OK, OK, OK, OK, SYSTEM_ON_BUS)),
    "confirm": (
        "ConfirmBooking",
        {"booking_id": BOOKING},
        (OK, NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS),
    ),
    "cancel": (
        "CancelBooking",
        {"booking_id": BOOKING},
        (OK, NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS),
    ),
    "override": (
        "WaiveAutoCancel",
        {"booking_id": BOOKING},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "join": (
        "JoinWaitlist",
        {**SLOT, "start": "16:00", "end": "17:00"},
        (OK, OK, OK, OK, SYSTEM_ON_BUS),
    ),
    "join with priority": (
        "JoinWaitlist",
        {**SLOT, "start": "16:00", "end": "17:00", "priority": -5},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "join for the owner": (
        "JoinWaitlist",
        {**SLOT, "start": "16:00", "end": "17:00", "user": OWNER},
        (OK, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "join for the owner with priority": (
        "JoinWaitlist",
        {**SLOT, "start": "16:00", "end": "17:00", "user": OWNER, "priority": 1},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "leave": ("LeaveWaitlist", {"entry_id": ENTRY}, (OK, NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS)),
    "decline": ("DeclineOffer", {"entry_id": ENTRY}, (OK, NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS)),
    "claim": ("ClaimOffer", {"entry_id": ENTRY}, (OK, NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS)),
    "register venue": (
        "RegisterVenue",
        {"name": "Annex", "tz": "Europe/Paris"},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "set venue rules": (
        "SetVenueRules",
        {"venue_id": "main-hall", "buffer_minutes": 10},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    # The venue has no check-in rule: past the owner check, the owner hears that.
    "check in": (
        "CheckIn",
        {"booking_id": BOOKING},
        ("refused:no_check_in", NOT_OWNER, NOT_OWNER, NOT_OWNER, SYSTEM_ON_BUS),
    ),
    # The booking earned no strike: past the admin check, the admin hears that.
    "waive strike": (
        "WaiveStrike",
        {"booking_id": BOOKING},
        (NOT_ADMIN, NOT_ADMIN, "refused:no_strike", NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "clear strikes": (
        "ClearStrikes",
        {"user": OWNER, "venue_id": "main-hall"},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    # A read (CONTRACT "Personal data"): only an admin may ask the bus for someone's data.
    "export person": (
        "ExportPerson",
        {"email": OWNER},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
    "grant admin": (
        "GrantAdmin",
        {"email": "new@example.com"},
        (NOT_ADMIN, NOT_ADMIN, OK, NOT_ADMIN, SYSTEM_ON_BUS),
    ),
}
CELLS = [
    pytest.param(command, role, expected, id=f"{command}-by-{role}")
    for command, (_, _, outcomes) in MATRIX.items()
    for role, expected in zip(ROLES, outcomes, strict=True)
]


def test_the_table_covers_every_public_command_but_the_tick() -> None:
    assert {kind for kind, _, _ in MATRIX.values()} == set(c.PUBLIC_COMMANDS) - {"Tick"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The owner has an unconfirmed booking and an open waitlist offer; the other user has a
    booking of their own; the admin is an admin; 16:00-17:00 is taken, so its queue is open."""
    home = tmp_path_factory.mktemp("authz") / "home"
    service = bootstrap(home, clock=lambda: NOW_DT)
    send = service.bus.handle
    send(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    send(c.GrantAdmin(actor=SYSTEM, email=ADMIN))
    send(c.BookVenue(command_id=cid("own-books"), actor=OWNER, **SLOT, start="10:00", end="11:00"))
    send(c.BookVenue(actor=OTHER, **SLOT, start="12:00", end="13:00"))
    held = send(c.BookVenue(actor=HOLDER, **SLOT, start="14:00", end="15:00"))["booking_id"]
    send(c.JoinWaitlist(command_id=cid("own-joins"), actor=OWNER, **SLOT, start="14:00", end="15:00"))
    send(c.CancelBooking(actor=HOLDER, booking_id=held))  # the owner's entry is offered the slot
    send(c.BookVenue(actor=HOLDER, **SLOT, start="16:00", end="17:00"))
    service.close()
    return home


@pytest.fixture
def world(prepared: Path, tmp_path: Path) -> Iterator[Any]:
    home = tmp_path / "home"
    shutil.copytree(prepared, home)
    service = bootstrap(home, clock=lambda: NOW_DT)
    yield service
    service.close()


@pytest.mark.parametrize(("command", "role", "expected"), CELLS)
def test_who_may_do_what(world: Any, command: str, role: str, expected: str) -> None:
    kind, fields, _ = MATRIX[command]
    body = {"type": kind, "command_id": cid(f"{command}/{role}"), "actor": ROLES[role], **fields}
    before = event_count(world)
    reply = CommandWorker(world, lambda: NOW_DT).outcome(json.dumps(body).encode())
    got = OK if reply["ok"] else f"{reply['kind']}:{reply['code']}"
    assert got == expected, reply
    if expected != OK:
        assert event_count(world) == before, "a refused command writes no event"


def test_the_local_operator_may_register_venues_and_grant_the_first_admin(tmp_path: Path) -> None:
    """The `system` actor refused on the bus is the operator at the store's own command line."""
    service = bootstrap(tmp_path / "home", clock=lambda: NOW_DT)
    try:
        assert service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Hall", tz="UTC"))["venue_id"] == "hall"
        assert service.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ADMIN))["admin"] == ADMIN
    finally:
        service.close()
