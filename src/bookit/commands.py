"""Commands: what the outside world may ask of BookIT, validated at the edge by pydantic.

Each command carries a `command_id` (a redelivery of the same id has one effect) and an
`actor` (who is asking). The public commands are the ones in docs/contract.md; the internal ones
are issued by policies (the clock and the mail adapter) with ids derived from their cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic import EmailStr as _EmailStr

from bookit.aggregates.base import SYSTEM
from bookit.errors import VENUE_HINT, BadInput, shown
from bookit.localtime import minutes_of_day, parse_date, parse_end, parse_time, zone
from bookit.wording import FieldError, code_of, describe

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_email_adapter: TypeAdapter[str] = TypeAdapter(_EmailStr)


def _email(value: str) -> str:
    if _CONTROL.search(value):
        raise FieldError("an email address cannot contain control characters", "bad_email")
    try:
        return _email_adapter.validate_python(value).lower()
    except ValidationError:
        raise FieldError(
            f"{shown(value)} is not an email address; give one like ann@example.com", "bad_email"
        ) from None


def _actor(value: str) -> str:
    return value if value == SYSTEM else _email(value)


def _one_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line of text without control characters")
    return value


def _free_text(value: str) -> str:
    # Purposes and reasons may span lines, but never carry other control characters.
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value):
        raise ValueError("must not contain control characters")
    return value


LAST_YEAR = 9000  # far beyond any booking; keeps every instant and calendar sum inside datetime


def _field(check: Any, value: str) -> None:
    """A parser's BadInput as a FieldError, so the message names the field as the person gave it."""
    try:
        check(value)
    except BadInput as error:
        raise FieldError(error.message, error.code) from None


def _date(value: str) -> str:
    _field(parse_date, value)
    if parse_date(value).year > LAST_YEAR:
        raise FieldError(f"date {shown(value)} is too far ahead (after {LAST_YEAR})", "bad_date")
    return value


def _time(value: str) -> str:
    _field(parse_time, value)
    return value


def _end_time(value: str) -> str:
    _field(parse_end, value)
    return value


def _tz(value: str) -> str:
    _field(zone, value)
    return value


def _venue_id(value: str) -> str:
    if not re.match(VENUE_ID_FORM, value):
        raise FieldError(f"{shown(value)} is not a venue id; {VENUE_HINT}", "bad_venue_id")
    return value


def _not_a_number(value: Any) -> Any:
    # pydantic would read a number as seconds since 1970: from a message, that is a mistake.
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 instant with a UTC offset, not a number")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset")
    return value


Email = Annotated[str, AfterValidator(_email)]
Actor = Annotated[str, AfterValidator(_actor)]
Name = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(_one_line)]
FreeText = Annotated[str, Field(max_length=1000), AfterValidator(_free_text)]
VENUE_ID_FORM = r"^[a-z0-9][a-z0-9_-]*$"
# The pattern is documented (the OpenAPI document shows it) and checked by _venue_id, whose
# refusal says what to do rather than quoting the pattern.
VenueId = Annotated[
    str,
    Field(min_length=1, max_length=64, json_schema_extra={"pattern": VENUE_ID_FORM}),
    AfterValidator(_venue_id),
]
Date = Annotated[str, AfterValidator(_date)]
Time = Annotated[str, AfterValidator(_time)]
EndTime = Annotated[str, AfterValidator(_end_time)]  # HH:MM or 24:00 (midnight at the day's end)
Zone = Annotated[str, Field(max_length=64), AfterValidator(_tz)]
Priority = Annotated[int, Field(ge=-100, le=100)]
Instant = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_aware)]

MINUTES_PER_YEAR = 366 * 1440
_PERIOD = r"(day|week|month)"


def _listed(value: Any) -> Any:
    # One quota may be sent as a plain string; several as a list.
    return [value] if isinstance(value, str) else value


def _bookings_quota(value: str) -> str:
    if not re.fullmatch(rf"[1-9][0-9]{{0,3}}/{_PERIOD}", value):
        raise ValueError(f"{shown(value)} is not a bookings quota: expected N/day, N/week or N/month")
    return value


def _hours_quota(value: str) -> str:
    match = re.fullmatch(rf"([0-9]{{1,4}}(?:\.[0-9]{{1,2}})?)/{_PERIOD}", value)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{shown(value)} is not an hours quota: expected H/day, H/week or H/month (H > 0)")
    return value


def _offer_window(value: Any) -> int | str:
    if value == "auto":
        return "auto"
    text = str(value)
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 10080:
        raise ValueError(f"{shown(value)} is not an offer window: expected auto or 1-10080 minutes")
    return int(text)


def _quiet_hours(value: str) -> str:
    parts = value.split("-")
    if len(parts) != 2:
        raise ValueError(f"{shown(value)} is not quiet hours: expected HH:MM-HH:MM")
    try:
        start, end = (parse_time(p) for p in parts)
    except BadInput as error:
        raise ValueError(f"quiet hours {shown(value)}: {error.message}") from None
    if start == end:
        raise ValueError(f"quiet hours {shown(value)} start and end at the same time")
    return value


def _offer_mode(value: str) -> str:
    match = re.fullmatch(r"one|all|batch:([0-9]{1,3})", value)
    if not match or (match.group(1) is not None and not 2 <= int(match.group(1)) <= 100):
        raise ValueError(f"{shown(value)} is not an offer mode: expected one, batch:N (N 2-100) or all")
    return value


BookingsQuota = Annotated[str, AfterValidator(_bookings_quota)]
HoursQuota = Annotated[str, AfterValidator(_hours_quota)]
OfferWindow = Annotated[int | str, BeforeValidator(_offer_window)]
QuietHours = Annotated[str, Field(max_length=11), AfterValidator(_quiet_hours)]
OfferMode = Annotated[str, Field(max_length=9), AfterValidator(_offer_mode)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    command_id: UUID = Field(default_factory=uuid4)
    actor: Actor


class _Slot(Command):
    venue_id: VenueId
    date: Date
    start: Time
    end: EndTime

    @model_validator(mode="after")
    def _end_after_start(self) -> _Slot:
        if minutes_of_day(self.end) <= minutes_of_day(self.start):
            raise BadInput(
                f"the end ({self.end}) must be after the start ({self.start}); "
                "an interval that ends at midnight ends at 24:00",
                "end_before_start",
            )
        return self


# Public commands (docs/contract.md "Bus messages")


class RegisterVenue(Command):
    type: Literal["RegisterVenue"] = "RegisterVenue"
    name: Name
    tz: Zone
    venue_id: VenueId | None = None


class GrantAdmin(Command):
    type: Literal["GrantAdmin"] = "GrantAdmin"
    email: Email


class BookVenue(_Slot):
    type: Literal["BookVenue"] = "BookVenue"
    purpose: FreeText = ""
    name: Name | None = None  # the booker's display name, for greetings and the To: header


class ConfirmBooking(Command):
    type: Literal["ConfirmBooking"] = "ConfirmBooking"
    booking_id: UUID


class CancelBooking(Command):
    type: Literal["CancelBooking"] = "CancelBooking"
    booking_id: UUID
    reason: FreeText = ""


class WaiveAutoCancel(Command):
    type: Literal["WaiveAutoCancel"] = "WaiveAutoCancel"
    booking_id: UUID


class JoinWaitlist(_Slot):
    type: Literal["JoinWaitlist"] = "JoinWaitlist"
    priority: Priority | None = None
    # An admin may put someone else in the queue (with a priority); others join themselves.
    user: Email | None = None
    name: Name | None = None  # the display name of whoever waits (`user`, or the actor)


class LeaveWaitlist(Command):
    type: Literal["LeaveWaitlist"] = "LeaveWaitlist"
    entry_id: UUID


class DeclineOffer(Command):
    type: Literal["DeclineOffer"] = "DeclineOffer"
    entry_id: UUID


class ClaimOffer(Command):
    type: Literal["ClaimOffer"] = "ClaimOffer"
    entry_id: UUID


class SetVenueRules(Command):
    """Set some of a venue's rules (admins only). Only the fields sent change: a field left
    out keeps its value, a field sent as null goes back to its default."""

    type: Literal["SetVenueRules"] = "SetVenueRules"
    venue_id: VenueId
    buffer_minutes: Annotated[int, Field(ge=0, le=720)] | None = None
    min_notice_minutes: Annotated[int, Field(ge=0, le=MINUTES_PER_YEAR)] | None = None
    max_advance_days: Annotated[int, Field(ge=1, le=3660)] | None = None
    min_duration_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    max_duration_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    quota_bookings: Annotated[list[BookingsQuota], BeforeValidator(_listed)] | None = None
    quota_hours: Annotated[list[HoursQuota], BeforeValidator(_listed)] | None = None
    check_in_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    late_cancel_minutes: Annotated[int, Field(ge=1, le=MINUTES_PER_YEAR)] | None = None
    no_show_strikes: Annotated[int, Field(ge=1, le=100)] | None = None
    strike_days: Annotated[int, Field(ge=1, le=3660)] | None = None
    offer_window: OfferWindow | None = None
    quiet_hours: QuietHours | None = None
    offer_mode: OfferMode | None = None

    def changes(self) -> dict[str, Any]:
        """The rule fields this command sets, by name (None: back to the default)."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set) if name in _RULE_INPUTS}


_RULE_INPUTS = frozenset(
    name for name in SetVenueRules.model_fields if name not in ("type", "venue_id", "command_id", "actor")
)


class CheckIn(Command):
    """The owner is at the venue (rule 14): from the booking's start until the check-in deadline."""

    type: Literal["CheckIn"] = "CheckIn"
    booking_id: UUID


class WaiveStrike(Command):
    """An admin takes back the strike a booking earned (its history shows it)."""

    type: Literal["WaiveStrike"] = "WaiveStrike"
    booking_id: UUID


class ClearStrikes(Command):
    """An admin clears every strike of a user at a venue, which ends a suspension."""

    type: Literal["ClearStrikes"] = "ClearStrikes"
    user: Email
    venue_id: VenueId


class Tick(Command):
    type: Literal["Tick"] = "Tick"
    actor: Actor = SYSTEM
    now: Instant


# Internal commands, issued by policies with ids derived from their cause


class SendReminder(Command):
    type: Literal["SendReminder"] = "SendReminder"
    booking_id: UUID


class AutoCancel(Command):
    type: Literal["AutoCancel"] = "AutoCancel"
    booking_id: UUID


class ExpireOffer(Command):
    type: Literal["ExpireOffer"] = "ExpireOffer"
    slot_id: UUID
    entry_id: UUID


class OpenOfferWindow(Command):
    """Quiet hours are over for an offer made in them: its window starts, its email goes out."""

    type: Literal["OpenOfferWindow"] = "OpenOfferWindow"
    slot_id: UUID
    entry_id: UUID


class CloseWaitlist(Command):
    type: Literal["CloseWaitlist"] = "CloseWaitlist"
    slot_id: UUID


class OpenCheckIn(Command):
    type: Literal["OpenCheckIn"] = "OpenCheckIn"
    booking_id: UUID


class ReleaseNoShow(Command):
    type: Literal["ReleaseNoShow"] = "ReleaseNoShow"
    booking_id: UUID


class RecordReminderDelivery(Command):
    type: Literal["RecordReminderDelivery"] = "RecordReminderDelivery"
    booking_id: UUID
    delivered_at: Instant


class ExportPerson(Command):
    """What BookIT holds about `email` (admins only on the bus); a read: no event, no receipt."""

    type: Literal["ExportPerson"] = "ExportPerson"
    email: Email


PUBLIC_COMMANDS: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        RegisterVenue,
        GrantAdmin,
        BookVenue,
        ConfirmBooking,
        CancelBooking,
        WaiveAutoCancel,
        JoinWaitlist,
        LeaveWaitlist,
        DeclineOffer,
        ClaimOffer,
        SetVenueRules,
        CheckIn,
        WaiveStrike,
        ClearStrikes,
        ExportPerson,
        Tick,
    )
}


def parse_command(body: Any) -> Command:
    """A public command from a decoded JSON body, or BadInput saying exactly what is wrong."""
    if not isinstance(body, dict):
        raise BadInput("a command must be a JSON object", "malformed_command")
    kind = body.get("type")
    cls = PUBLIC_COMMANDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadInput(f"unknown command type: {shown(kind)}", "unknown_command")
    command = build(cls, **body)
    if command.actor == SYSTEM and cls is not Tick:
        # "system" is the clock's and the local operator's name; nobody may claim it on the bus.
        raise BadInput("actor must be a person's email address", "invalid_command")
    return command


def build(cls: type[Command], names: Mapping[str, str] | None = None, /, **fields: Any) -> Command:
    """Construct a command, turning pydantic's errors into one BadInput in the person's terms
    (`names`: how each field was given, e.g. actor -> --user on the CLI)."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise BadInput(describe(errors, names), code_of(errors, "invalid_command")) from None
