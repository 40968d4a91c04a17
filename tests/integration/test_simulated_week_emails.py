"""Issue 14 over a whole simulated week (the `bookit demo` story, 3 venues, 7 days): every email
that reached the Maildir, read back as a mail client and a calendar read it.

- No link in any email carries an address: every token is decoded and searched.
- Every email is marked Auto-Submitted.
- Every booking made is one calendar invitation (REQUEST), TENTATIVE while it waits for its
  owner's confirmation; every confirmation is one update (REQUEST, CONFIRMED, higher SEQUENCE);
  every booking cancelled, by its owner or by the system, is one CANCEL with the same UID and a
  higher SEQUENCE; each is at the booking's own instants, at its venue, for its owner.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import pytest
from icalendar import Calendar

from bookit.demo.simulation import Simulation
from bookit.localtime import from_iso
from bookit.projections import queries

URL = re.compile(r"https?://[^\s\"'<>]+")
CANCEL_KIND = {"cancelled": "booking-cancelled", "auto_cancelled": "auto-cancelled"}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulation, list[EmailMessage]]]:
    home = tmp_path_factory.mktemp("week") / "home"
    sim = Simulation(home, venues=3, days=7, seed=7)
    sim.run()
    parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
    messages = [parse(path.read_bytes()) for path in sorted((home / "outbox").glob("[nc][eu][wr]/*"))]
    yield sim, [m for m in messages if isinstance(m, EmailMessage)]
    sim.close()


def parts(message: EmailMessage, subtype: str) -> list[str]:
    return [str(p.get_content()) for p in message.walk() if p.get_content_type() == f"text/{subtype}"]


def decoded_token(url: str) -> str:
    token = url.split("/l/", 1)[1]
    body = token.split(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_the_week_sends_every_kind_of_email_about_enough_people(week: Any) -> None:
    sim, messages = week
    kinds = {str(m["X-BookIT-Kind"]) for m in messages}
    assert {"booking-confirmed", "reminder", "booking-cancelled", "auto-cancelled", "waitlist-offer"} <= kinds
    assert len({str(m["To"]) for m in messages}) > 20


def test_no_link_in_any_email_of_the_week_carries_an_address(week: Any) -> None:
    sim, messages = week
    people = set(sim.users) | {str(m["To"].addresses[0].addr_spec) for m in messages}
    tokens = 0
    for message in messages:
        urls = {
            url.rstrip(".,)")
            for body in parts(message, "plain") + parts(message, "html")
            for url in URL.findall(body)
        }
        for url in urls:
            readable = unquote(url)
            if "/l/" in url:
                readable += " " + decoded_token(url)
                tokens += 1
            assert "@" not in readable, f"an address in {url} ({message['X-BookIT-Kind']})"
            for person in people:
                assert person.split("@")[0] not in readable, f"{person} in {url}"
    assert tokens > 100  # the reminders' and offers' buttons, in text and HTML


def test_every_email_of_the_week_is_auto_submitted(week: Any) -> None:
    _, messages = week
    assert {str(m["Auto-Submitted"]) for m in messages} == {"auto-generated"}


def test_every_booking_of_the_week_is_invited_once_and_each_cancellation_cancels_it(week: Any) -> None:
    sim, messages = week
    engine = sim.service.engine
    venues = {row["venue_id"]: row for row in queries.venue_list(engine)}
    bookings = {row["booking_id"]: row for row in queries.booking_list(engine)}
    by_uid: dict[str, dict[str, list[tuple[Any, EmailMessage]]]] = defaultdict(lambda: defaultdict(list))
    for message in messages:
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            calendar = Calendar.from_ical(part.get_content())
            [event] = calendar.walk("VEVENT")
            assert part.get_param("method") == calendar["METHOD"]
            by_uid[str(event["UID"])][str(calendar["METHOD"])].append((event, message))

    assert set(by_uid) == {f"{booking_id}@bookit" for booking_id in bookings}
    cancels = confirmations = 0
    for booking_id, row in bookings.items():
        methods = by_uid[f"{booking_id}@bookit"]
        (invite, invited), *updates = sorted(methods["REQUEST"], key=lambda sent: int(sent[0]["SEQUENCE"]))
        venue = venues[row["venue_id"]]
        assert invited["X-BookIT-Kind"] in ("booking-confirmed", "waitlist-claimed")
        # Tentative while it waits for its owner's confirmation; the confirmation's update, at a
        # higher SEQUENCE, is the only other REQUEST.
        needed_confirming = sim.service.app.booking(UUID(booking_id)).cancel_due is not None
        assert str(invite["STATUS"]) == ("TENTATIVE" if needed_confirming else "CONFIRMED")
        if row["confirmed"] and needed_confirming:
            [(update, updated)] = updates
            assert updated["X-BookIT-Kind"] == "confirmation-received"
            assert str(update["STATUS"]) == "CONFIRMED" and update["SEQUENCE"] > invite["SEQUENCE"]
            confirmations += 1
        else:
            assert updates == []
        assert invite["DTSTART"].dt == from_iso(row["starts_at"])
        assert invite["DTEND"].dt == from_iso(row["ends_at"])
        assert invite["DTSTART"].params["TZID"] == venue["tz"]
        assert invite["LOCATION"] == venue["name"]
        assert (
            invite["ATTENDEE"] == f"mailto:{row['user']}" == f"mailto:{invited['To'].addresses[0].addr_spec}"
        )
        if row["status"] in ("cancelled", "auto_cancelled"):
            [(cancel, cancelled)] = methods["CANCEL"]
            assert cancelled["X-BookIT-Kind"] == CANCEL_KIND[row["status"]]
            assert cancel["SEQUENCE"] > invite["SEQUENCE"]
            assert cancel["STATUS"] == "CANCELLED"
            assert cancel["DTSTART"].dt == invite["DTSTART"].dt
            cancels += 1
        else:
            assert methods["CANCEL"] == []
    assert cancels > 10 and confirmations > 10


def test_named_people_are_greeted_and_addressed_by_name_the_others_plainly(week: Any) -> None:
    sim, messages = week
    for message in messages:
        [to] = message["To"].addresses
        name = sim.names.get(to.addr_spec)
        [text] = parts(message, "plain")
        assert to.display_name == (name or "")
        assert (f"Hello {name}," if name else "Hello,") in text.splitlines()


def test_the_maildir_holds_what_the_mailer_recorded(week: Any) -> None:
    sim, messages = week
    assert len(messages) == len(queries.outbox(sim.service.engine))
