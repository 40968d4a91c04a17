"""Issue 31: every link in a simulated week's emails goes somewhere real and says what is true.

The `bookit demo` story (3 venues, 7 days, check-in on, so no-shows too) writes its emails to a
Maildir; then the real `bookit run` serves that home on a free port, its clock at the week's
end, and every link of every email (plain text and HTML) is opened over HTTP: none is a 404 or
a 5xx, and each page's words are checked against the state of what it is about, read from the
read models at that moment: a booking's status (cancelled, and why), an entry's (claimed,
expired, declined, taken by someone else), a venue page's intervals.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bookit.demo.simulation import Simulation
from bookit.localtime import from_iso, iso
from bookit.projections import queries
from link_pages import free_port

URL = re.compile(r"https?://[^\s\"'<>]+")
BOOKIT = Path(sys.executable).with_name("bookit")
ROW = re.compile(r'<span class="time">(\d\d:\d\d)–(\d\d:\d\d)</span> <span class="state">([^<]+)</span>')
STATE = {"Free": "free", "Booked": "booked", "Held for someone on the waitlist": "held"}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulation, list[EmailMessage], str]]:
    home = tmp_path_factory.mktemp("week-links") / "home"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in ("BOOKIT_LINK_BASE", "BOOKIT_SECRET", "BOOKIT_APP_URL")}
    os.environ |= {"BOOKIT_LINK_BASE": base, "BOOKIT_SECRET": "week-links-secret-0123456789"}
    os.environ.pop("BOOKIT_APP_URL", None)
    sim = Simulation(home, venues=3, days=7, seed=7, check_in_minutes=15)
    try:
        sim.run()
        parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
        messages = [parse(p.read_bytes()) for p in sorted((home / "outbox").glob("[nc][eu][wr]/*"))]
        env = os.environ | {"BOOKIT_HTTP_PORT": str(port), "BOOKIT_NOW": iso(sim.clock.now) or ""}
        server = subprocess.Popen(
            [str(BOOKIT), "--home", str(home), "run", "--every", "3600"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(port, server)
            yield sim, [m for m in messages if isinstance(m, EmailMessage)], base
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        sim.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            said = server.stderr.read().decode() if server.stderr else ""
            raise AssertionError(f"bookit run exited: {said}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("bookit run never listened")


def links_of(message: EmailMessage) -> set[str]:
    found = set()
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            found |= {html.unescape(u).rstrip(".,)") for u in URL.findall(str(part.get_content()))}
    return found


def token_of(url: str) -> tuple[str, str]:
    body = url.split("/l/", 1)[1].split(".")[0]
    action, subject_id, *_ = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return action, subject_id


def booking_words(action: str, row: dict[str, Any], now: Any) -> tuple[str, ...]:
    """What a page about this booking must say, given its state now (any one of them)."""
    status = row["status"]
    if status == "cancelled":
        return ("You cancelled this booking.",)
    if status == "auto_cancelled":
        return ("This booking was cancelled automatically: it was not confirmed by",)
    if status == "no_show":
        return ("This booking was released: nobody checked in",)
    if action == "confirm" and status == "confirmed":
        return ("You have confirmed this booking.", "You already used this link")
    if now >= from_iso(row["starts_at"]):
        if action == "check-in":
            return ("You checked in", "Check-in closed at", "Checked in")
        return ("This booking started", "You already used this link")
    button = {"confirm": "Confirm booking", "cancel": "Cancel booking", "check-in": "Check in"}[action]
    return (f">{button}</button>", "You already used this link")


def entry_words(row: dict[str, Any], now: Any) -> tuple[str, ...]:
    status = row["status"]
    words = {
        "claimed": ("You claimed this slot:", "It's yours"),
        "expired": ("Sorry, this offer expired at",),
        "declined": ("You declined this offer", "Offer declined"),
        "left": ("You left the waitlist for this slot.",),
        "closed": ("The slot has started, so its waitlist is closed.",),
        "waiting": ("claimed it first. You keep your place in line", "This offer is no longer open"),
    }
    if status == "offered":
        if row["offered_until"] and now < from_iso(row["offered_until"]):
            return (">Claim this slot</button>", ">Decline the offer</button>")
        return ("Sorry, this offer expired at",)
    return words[status]


def test_every_link_of_the_weeks_emails_leads_to_a_page_that_says_what_is_true(week: Any) -> None:
    sim, messages, base = week
    engine, now = sim.service.engine, sim.clock.now
    urls = sorted({url for message in messages for url in links_of(message)})
    seen = {"link": 0, "venue": 0}
    assert all(url.startswith(base) for url in urls), "every link leads to the BookIT that sent it"
    with httpx.Client(timeout=30) as client:
        for url in urls:
            page = client.get(url)
            text = html.unescape(page.text)
            assert page.status_code != 404 and page.status_code < 500, f"{page.status_code} for {url}"
            if "/venues/" in url:
                seen["venue"] += 1
                venue_id = urlsplit(url).path.rsplit("/", 1)[1]
                [date] = parse_qs(urlsplit(url).query)["date"]
                venue = queries.venue(engine, venue_id)
                assert page.status_code == 200 and venue is not None and f"<h1>{venue['name']}</h1>" in text
                section = text.split(f'data-date="{date}"', 1)[1].split("</section>", 1)[0]
                shown = [{"start": s, "end": e, "state": STATE[w]} for s, e, w in ROW.findall(section)]
                assert shown == queries.availability(engine, venue_id, date), url
                continue
            seen["link"] += 1
            action, subject_id = token_of(url)
            if action in ("claim", "decline"):
                entry = queries.waitlist_entry(engine, subject_id)
                assert entry is not None
                expected = entry_words(entry, now)
            else:
                booking = queries.booking(engine, subject_id)
                assert booking is not None
                expected = booking_words(action, booking, now)
            assert any(words in text for words in expected), f"{action} {subject_id}: {expected} in\n{text}"
    assert seen["link"] > 100 and seen["venue"] > 10, seen
