"""Every kind of email, plain text and HTML, says times as people say them (issue 31): no field
printed empty, one zone (the venue's, named once), no seconds in a clock time, and a time left
said in minutes, never as a clock ("15:00 left").

The emails are the mailer's own: every email-owing event of test_mail_owed.py's scenarios
(kept complete there), composed as the mailer composes them, at a venue in Paris, with the
moments of the scenarios moved off the whole minute (an offer made at 09:00:42 ends at
09:15:42: it is said "09:15").
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from uuid import uuid4

import pytest
import test_mail_owed as scenarios

from bookit.adapters.mail import KINDS
from bookit.aggregates.booking import Booking
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.config import Rules
from bookit.policies.mail.mailer import compose
from bookit.policies.mail.owed import OWED, Email, Facts, emails_owed

ZONES = re.compile(r"\b(UTC|GMT|Europe/\w+|[A-Z][a-z]+ time)\b")
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
CLOCK_LEFT = re.compile(r"\b\d+:\d{2} left\b")
EMPTY_ROW = re.compile(r"^\s+[A-Z][\w ]*:\s*$", re.M)


class _Cells(HTMLParser):
    """The HTML's table cells' texts, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def odd_seconds_offer() -> WaitlistSlot:
    slot, _ = scenarios.queue_of_three()
    slot.offer_next(timedelta(minutes=15), scenarios.cause(at=scenarios.NOW + timedelta(seconds=42)))
    return slot


def claimed_then_reminded() -> Booking:
    """A claim's booking more than a day ahead: reminded, with the claim's placeholder purpose."""
    booking = Booking.book(
        uuid4(),
        venue_id="main-hall",
        user=scenarios.ANN,
        date="2026-12-03",
        start="15:00",
        end="17:00",
        starts_at=scenarios.START,
        ends_at=scenarios.START + timedelta(hours=2),
        purpose="claimed from the waitlist",
        rules=Rules(),
        cause=scenarios.cause(scenarios.ANN),
        waitlist_entry_id=str(uuid4()),
    )
    booking.remind(scenarios.cause(at=scenarios.START - timedelta(hours=24, seconds=-17)))
    return booking


def no_show_decided_late() -> Booking:
    """The service was down: the release came three hours after check-in closed (rule 24)."""
    booking = scenarios.with_check_in()
    booking.release_as_no_show(Rules(), scenarios.cause(at=scenarios.START + timedelta(hours=3, seconds=9)))
    return booking


def without_purpose() -> Booking:
    booking = scenarios.book()
    booking.purpose = ""
    return booking


BUILDS = {**{t.TOPIC: b for t, b in scenarios.SCENARIOS.items()}}
BUILDS |= {
    "offer-at-odd-seconds": odd_seconds_offer,
    "claimed-then-reminded": claimed_then_reminded,
    "booked-without-purpose": without_purpose,
    "no-show-decided-late": no_show_decided_late,
}


def emails_of(build: Any) -> list[tuple[Email, EmailMessage]]:
    aggregate = build()
    event = aggregate.collect_events()[-1]
    owed = emails_owed(Facts(event, aggregate, scenarios.VENUE, scenarios.LINKS))
    return [(email, compose(email, scenarios.NOW)) for email in owed]


def texts(message: EmailMessage) -> tuple[str, str]:
    plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())


def test_the_wording_cases_cover_every_kind_that_is_owed() -> None:
    kinds = {email.kind for build in BUILDS.values() for email, _ in emails_of(build)}
    assert set(scenarios.SCENARIOS) == set(OWED)
    assert kinds == set(KINDS)  # every kind a template exists for is composed here


@pytest.mark.parametrize("case", list(BUILDS))
def test_every_email_prints_no_empty_field_one_zone_no_seconds(case: str) -> None:
    for email, message in emails_of(BUILDS[case]):
        plain, html = texts(message)
        subject = str(message["Subject"])
        for said in (plain, html, subject):
            assert not SECONDS.search(said), f"{email.kind}: seconds in {SECONDS.search(said)}"
            assert not CLOCK_LEFT.search(said), f"{email.kind}: a time left said as a clock"
            assert "claimed from the waitlist" not in said
        # One zone: the venue's (Paris), named once, in the "When" line.
        assert ZONES.findall(plain) == ["Paris time"], email.kind
        assert ZONES.findall(re.sub(r"<[^>]+>", " ", html)) == ["Paris time"], email.kind
        assert not EMPTY_ROW.search(plain), f"{email.kind}: {EMPTY_ROW.search(plain)!r}"
        cells = _Cells()
        cells.feed(html)
        for row in cells.rows:
            assert all(cell.strip() for cell in row), f"{email.kind}: an empty cell in {row}"


def test_an_offer_made_off_the_minute_says_its_deadline_and_time_left_in_whole_minutes() -> None:
    [(email, message)] = emails_of(odd_seconds_offer)
    plain, _ = texts(message)
    assert email.context["deadline"] == "10:15 on Tuesday 1 December"
    assert "Claim it by 10:15 on Tuesday 1 December (15 minutes left)" in plain


def test_a_booking_without_a_purpose_prints_no_purpose_line() -> None:
    [(_, message)] = emails_of(without_purpose)
    plain, html = texts(message)
    assert "Purpose" not in plain and "Purpose" not in html
    [(_, with_one)] = emails_of(scenarios.book)
    assert "  Purpose:  Choir" in texts(with_one)[0]


def test_rule_24_a_no_show_decided_late_says_it_is_no_strike_and_why_in_the_venues_zone() -> None:
    [(email, message)] = emails_of(no_show_decided_late)
    plain, html = texts(message)
    said = (
        "There is nothing to do now, and it is not counted against you: BookIT was not running when"
        " check-in closed and only released it at 18:00 on Thursday 3 December, so you may not have"
        " been able to check in."
    )
    assert plain.splitlines()[1] == said
    assert "counts as a no-show" not in plain and "suspend" not in plain
    [(_, on_time)] = emails_of(scenarios.no_show)
    assert (
        texts(on_time)[0].splitlines()[1]
        == "There is nothing to do now; it counts as a no-show at this venue."
    )
