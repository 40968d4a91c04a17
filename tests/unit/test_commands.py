"""Commands at the edge (pydantic: a clear BadInput, nothing else) and how the application
service treats them: who may issue which, and a command_id has one effect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.application import BookIT
from bookit.errors import BadInput, NotFound, Refused

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SLOT = {"venue_id": "hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}


def bad(cls: type[c.Command], **fields: Any) -> BadInput:
    with pytest.raises(BadInput) as info:
        c.build(cls, **fields)
    return info.value


# Validation at the edge (rule 11)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"actor": "not-an-email"}, "actor"),
        ({"actor": "a@example.com", "date": "2026-13-01"}, "2026-13-01"),
        ({"actor": "a@example.com", "date": "5/12/2026"}, "5/12/2026"),
        ({"actor": "a@example.com", "start": "25:00"}, "25:00"),
        ({"actor": "a@example.com", "start": "9:00"}, "9:00"),
        ({"actor": "a@example.com", "venue_id": "Main Hall!"}, "venue_id"),
        ({"actor": "a@example.com", "purpose": "x" * 1001}, "purpose"),
        ({"actor": "a@example.com", "purpose": "bell\x07"}, "purpose"),
        ({"actor": "a@example.com", "colour": "red"}, "colour"),
    ],
)
def test_malformed_booking_is_bad_input_naming_what_is_wrong(fields: dict[str, Any], named: str) -> None:
    error = bad(c.BookVenue, **(SLOT | fields))
    assert error.exit_code == 2
    assert named in error.message


def test_end_before_start_is_bad_input() -> None:
    error = bad(c.BookVenue, actor="a@example.com", **(SLOT | {"start": "12:00", "end": "10:00"}))
    assert "the end (10:00) must be after the start (12:00)" in error.message
    assert error.code == "end_before_start"


def test_multi_line_purpose_is_accepted() -> None:
    command = c.build(c.BookVenue, actor="a@example.com", purpose="line one\nline two", **SLOT)
    assert isinstance(command, c.BookVenue)
    assert command.purpose == "line one\nline two"


def test_email_addresses_are_lowercased_so_ownership_is_case_blind() -> None:
    command = c.build(c.ConfirmBooking, actor="Alice@Example.COM", booking_id=uuid4())
    assert command.actor == "alice@example.com"


def test_header_injection_through_an_address_is_refused() -> None:
    error = bad(c.GrantAdmin, actor=SYSTEM, email="a@example.com\r\nBcc: evil@example.com")
    assert "email" in error.message


def test_venue_name_must_be_one_line() -> None:
    error = bad(c.RegisterVenue, actor=SYSTEM, name="Hall\r\nBcc: x@example.com", tz="Europe/London")
    assert "name" in error.message


def test_unknown_time_zone_is_bad_input() -> None:
    error = bad(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Mars/Olympus")
    assert "Mars/Olympus" in error.message


@pytest.mark.parametrize("priority", [-101, 101])
def test_priority_out_of_range_is_bad_input(priority: int) -> None:
    assert "priority" in bad(c.JoinWaitlist, actor="a@example.com", priority=priority, **SLOT).message


def test_tick_needs_an_instant_with_offset() -> None:
    assert "now" in bad(c.Tick, now=datetime(2026, 12, 1, 9, 0)).message


@pytest.mark.parametrize("now", [1.5, 0, 1_700_000_000, True])
def test_a_tick_at_a_number_is_refused_not_read_as_seconds_since_1970(now: object) -> None:
    """Found by the bus fuzzer: `{"type": "Tick", "now": 1.5}` ticked at 1970-01-01T00:00:01Z."""
    assert "not a number" in bad(c.Tick, now=now).message


@pytest.mark.parametrize("value", [1.5, 1_700_000_000, datetime(2026, 12, 1, 9, 0)])
def test_every_instant_a_command_carries_is_an_instant_with_an_offset(value: object) -> None:
    """One type for every instant field (`Instant`): the follow-up the mailer records too."""
    booking = "0d15ea5e-0000-4000-8000-000000000000"
    error = bad(c.RecordReminderDelivery, actor="system", booking_id=booking, delivered_at=value)
    assert error.message.startswith("delivered_at: ") and "UTC offset" in error.message


# Bus bodies


def test_parse_command_builds_the_named_type() -> None:
    command = c.parse_command({"type": "BookVenue", "actor": "a@example.com", **SLOT})
    assert isinstance(command, c.BookVenue)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([1, 2], "malformed_command"),
        ({"type": "DropTables", "actor": "a@example.com"}, "unknown_command"),
        ({"type": "SendReminder", "actor": "a@example.com", "booking_id": str(uuid4())}, "unknown_command"),
        ({"type": "BookVenue", "actor": "a@example.com"}, "invalid_command"),
        ({"type": "GrantAdmin", "actor": SYSTEM, "email": "me@example.com"}, "invalid_command"),
    ],
    ids=["not-an-object", "unknown-type", "internal-command", "missing-fields", "system-actor"],
)
def test_bad_bus_bodies_are_refused_with_a_code(body: Any, code: str) -> None:
    with pytest.raises(BadInput) as info:
        c.parse_command(body)
    assert info.value.code == code


# Handling: authorization and idempotency (rules 9 and 10)


@pytest.fixture
def app() -> BookIT:
    app = BookIT(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.handle(c.build(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="Europe/London"), NOW)
    return app


def events(app: BookIT) -> int:
    return app.recorder.max_notification_id() or 0


def refusal(app: BookIT, command: c.Command) -> Refused:
    before = events(app)
    with pytest.raises(Refused) as info:
        app.handle(command, NOW)
    assert events(app) == before, "a refused command wrote events"
    return info.value


def test_grant_admin_by_a_non_admin_is_refused(app: BookIT) -> None:
    error = refusal(app, c.build(c.GrantAdmin, actor="me@example.com", email="me@example.com"))
    assert error.code == "not_admin"
    assert not app.is_admin("me@example.com")


def test_an_admin_may_grant_the_role(app: BookIT) -> None:
    app.handle(c.build(c.GrantAdmin, actor=SYSTEM, email="boss@example.com"), NOW)
    app.handle(c.build(c.GrantAdmin, actor="boss@example.com", email="deputy@example.com"), NOW)
    assert app.is_admin("deputy@example.com")


def test_register_venue_by_a_non_admin_is_refused(app: BookIT) -> None:
    command = c.build(c.RegisterVenue, actor="me@example.com", name="Shed", tz="Europe/London")
    assert refusal(app, command).code == "not_admin"


def test_waive_by_a_non_admin_is_refused(app: BookIT) -> None:
    booked = app.handle(c.build(c.BookVenue, actor="a@example.com", **SLOT), NOW)
    command = c.build(c.WaiveAutoCancel, actor="a@example.com", booking_id=booked["booking_id"])
    assert refusal(app, command).code == "not_admin"


def test_same_command_id_twice_has_one_effect_and_the_same_outcome(app: BookIT) -> None:
    command = c.build(c.BookVenue, actor="a@example.com", **SLOT)
    first = app.handle(command, NOW)
    after_first = events(app)
    assert app.handle(command, NOW) == first
    assert events(app) == after_first


def test_a_redelivered_cancel_is_not_refused_as_cancelling_twice(app: BookIT) -> None:
    booked = app.handle(c.build(c.BookVenue, actor="a@example.com", **SLOT), NOW)
    cancel = c.build(c.CancelBooking, actor="a@example.com", booking_id=booked["booking_id"])
    assert app.handle(cancel, NOW) == app.handle(cancel, NOW)


def test_booking_in_the_past_is_bad_input_and_writes_nothing(app: BookIT) -> None:
    before = events(app)
    with pytest.raises(BadInput) as info:
        app.handle(c.build(c.BookVenue, actor="a@example.com", **(SLOT | {"date": "2026-11-30"})), NOW)
    assert info.value.code == "in_the_past"
    assert events(app) == before


def test_unknown_venue_and_booking_are_not_found(app: BookIT) -> None:
    with pytest.raises(NotFound) as venue:
        app.handle(c.build(c.BookVenue, actor="a@example.com", **(SLOT | {"venue_id": "nowhere"})), NOW)
    with pytest.raises(NotFound) as booking:
        app.handle(c.build(c.ConfirmBooking, actor="a@example.com", booking_id=uuid4()), NOW)
    assert (venue.value.code, booking.value.code) == ("unknown_venue", "unknown_booking")
    assert venue.value.exit_code == booking.value.exit_code == 2


@pytest.mark.parametrize("kind", ["BookVenue", "JoinWaitlist"])
def test_a_bus_message_may_carry_a_display_name_of_one_line(kind: str) -> None:
    body = {"type": kind, "actor": "a@example.com", **SLOT}
    assert c.parse_command(body | {"name": "  Ann Smith "}).name == "Ann Smith"  # type: ignore[attr-defined]
    assert c.parse_command(body).name is None  # type: ignore[attr-defined]
    for bad in ("Ann\r\nBcc: eve@example.com", "x" * 121, ""):
        with pytest.raises(BadInput, match="name"):
            c.parse_command(body | {"name": bad})
