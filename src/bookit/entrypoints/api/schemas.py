"""What goes in and out of the HTTP API, as pydantic models: FastAPI validates requests with
them and describes both in the OpenAPI document. Request fields use the commands' own types, so
a value the API accepts is one the command accepts; unknown fields are refused (422)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bookit import commands as c

DatePattern = r"^\d{4}-\d{2}-\d{2}$"
TimePattern = r"^([01]\d|2[0-3]):[0-5]\d$"
EndPattern = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"

# The patterns are documented here and checked by the commands' own validators, whose refusals
# name the field and say what to do (a pattern's own refusal would quote the pattern).
Date = Annotated[
    c.Date, Field(examples=["2026-12-03"], json_schema_extra={"format": "date", "pattern": DatePattern})
]
Time = Annotated[c.Time, Field(examples=["14:00"], json_schema_extra={"pattern": TimePattern})]
EndTime = Annotated[
    c.EndTime,
    Field(
        examples=["16:00"],
        description="HH:MM, or 24:00 for midnight at the end of the day",
        json_schema_extra={"pattern": EndPattern},
    ),
]
VenueRef = Annotated[c.VenueId, Field(examples=["main-hall"])]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewVenue(_In):
    name: c.Name
    tz: Annotated[c.Zone, Field(examples=["Europe/London"])]
    venue_id: c.VenueId | None = None


class NewBooking(_In):
    venue_id: VenueRef
    date: Date
    start: Time
    end: EndTime
    purpose: c.FreeText = ""
    name: c.Name | None = Field(None, description="your name, as emails greet you")


class Cancellation(_In):
    reason: c.FreeText = ""


class NewEntry(_In):
    venue_id: VenueRef
    date: Date
    start: Time
    end: EndTime
    priority: c.Priority | None = Field(None, description="admins only")
    user: c.Email | None = Field(None, description="admins only: put someone else in the queue")
    name: c.Name | None = Field(None, description="the name emails greet whoever waits by")


class Venue(BaseModel):
    venue_id: str
    name: str
    tz: str


class VenueCreated(BaseModel):
    venue_id: str


class Interval(BaseModel):
    start: str = Field(description="HH:MM in the venue's zone")
    end: str = Field(description="HH:MM in the venue's zone; 24:00 is the end of the day")
    state: Literal["free", "booked", "held"]


class Availability(BaseModel):
    venue_id: str
    date: str
    tz: str
    intervals: list[Interval]


class BookingOutcome(BaseModel):
    booking_id: str
    status: str


class Claimed(BookingOutcome):
    entry_id: str


class Booking(BaseModel):
    booking_id: str
    venue_id: str
    user: str
    date: str
    start: str
    end: str
    starts_at: str = Field(description="ISO 8601 UTC")
    ends_at: str = Field(description="ISO 8601 UTC")
    purpose: str
    status: Literal["booked", "confirmed", "cancelled", "auto_cancelled"]
    confirmed: bool
    reminded: bool
    reminder_delivered_at: str | None
    cancel_due: str | None
    note: str
    booked_at: str
    waitlist_entry_id: str | None


class EntryJoined(BaseModel):
    entry_id: str
    position: int


class EntryOutcome(BaseModel):
    entry_id: str


class WaitlistEntry(BaseModel):
    entry_id: str
    slot_id: str
    venue_id: str
    user: str
    date: str
    start: str
    end: str
    priority: int
    seq: int
    status: str
    offered_until: str | None
    joined_at: str
    position: int = Field(description="1 is next in line; 0 while the slot is offered to you")
    seconds_left: int | None = Field(None, description="seconds left to claim an open offer")


class HistoryEmail(BaseModel):
    kind: str
    recipient: str
    message_id: str
    subject_id: str
    outcome: str = Field(description="delivered, or refused for good by the mail server")
    at: str
    error: str | None = Field(None, description="the mail server's reply, when refused")


class HistoryEvent(BaseModel):
    position: int
    aggregate_id: str
    version: int
    topic: str
    at: str
    actor: str
    command_id: str
    booking_id: str | None
    entry_id: str | None
    data: dict[str, Any]
    text: str | None = Field(None, description="the step in words (waitlist entries)")
    emails: list[HistoryEmail] = Field(default_factory=list, description="emails this event owed")
