"""A user's live bookings as one iCalendar feed: `GET /api/calendar.ics` for the token's user
(over real HTTP) and `bookit calendar --user U` (the installed executable), read back with
`icalendar`. Both doors give the same feed; each booking has the UID of its emailed invitation.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from api_client import People, people_on
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service

ANN, BOB = "ann@example.com", "bob@example.com"
SLOT = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}
BOOKIT = str(Path(sys.executable).with_name("bookit"))


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    with people_on(service) as crowd:
        yield crowd


def uids(feed: str) -> list[str]:
    return [str(event["UID"]) for event in Calendar.from_ical(feed).walk("VEVENT")]


def invitation_uid(service: Service, booking_id: str) -> str:
    parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
    for path in (service.home / "outbox").glob("new/*"):
        message = parse(path.read_bytes())
        assert isinstance(message, EmailMessage)
        if message["X-BookIT-Booking"] == booking_id:
            [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
            [event] = Calendar.from_ical(part.get_content()).walk("VEVENT")
            return str(event["UID"])
    raise AssertionError(f"no email about {booking_id}")


def book(people: People, who: str, **fields: Any) -> str:
    made = people(who).post("/api/bookings", json=SLOT | fields)
    assert made.status_code == 201, made.text
    return str(made.json()["booking_id"])


def test_the_feed_holds_the_callers_live_bookings_with_their_invitations_uids(
    service: Service, people: People
) -> None:
    kept = book(people, ANN, purpose="Choir", name="Ann Smith")
    dropped = book(people, ANN, start="14:00", end="15:00")
    book(people, BOB, start="16:00", end="17:00")
    assert people(ANN).post(f"/api/bookings/{dropped}/cancel", json={}).status_code == 200

    response = people(ANN).get("/api/calendar.ics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert uids(response.text) == [f"{kept}@bookit"] == [invitation_uid(service, kept)]
    [event] = Calendar.from_ical(response.text).walk("VEVENT")
    assert event["SUMMARY"] == "Main Hall: Choir"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event["ATTENDEE"] == f"mailto:{ANN}"
    assert uids(people(BOB).get("/api/calendar.ics").text) != uids(response.text)


def test_the_feed_needs_a_token(people: People) -> None:
    with people.anonymous() as nobody:
        response = nobody.get("/api/calendar.ics")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_name_given_to_the_api_greets_and_addresses_the_booker(service: Service, people: People) -> None:
    booking = book(people, ANN, name="Ann Smith")
    parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
    [message] = [
        m
        for m in (parse(p.read_bytes()) for p in (service.home / "outbox").glob("new/*"))
        if m["X-BookIT-Booking"] == booking
    ]
    assert message["To"] == f"Ann Smith <{ANN}>"
    text = message.get_body(("plain",))
    assert text is not None and "Hello Ann Smith," in str(text.get_content()).splitlines()


def test_a_name_with_a_line_break_is_a_422_and_books_nothing(service: Service, people: People) -> None:
    response = people(ANN).post("/api/bookings", json=SLOT | {"name": "Ann\r\nBcc: eve@example.com"})
    assert response.status_code in (400, 422)
    assert people(ANN).get("/api/bookings").json() == []


def test_bookit_calendar_prints_the_same_feed_as_the_api(service: Service, people: People) -> None:
    booking = book(people, ANN, purpose="Choir")
    served = people(ANN).get("/api/calendar.ics").text
    home = str(service.home)

    printed = subprocess.run(
        [BOOKIT, "--home", home, "calendar", "--user", ANN], capture_output=True, text=True, timeout=120
    )

    assert printed.returncode == 0, printed.stderr
    assert uids(printed.stdout) == [f"{booking}@bookit"]
    assert Calendar.from_ical(printed.stdout) == Calendar.from_ical(served)
