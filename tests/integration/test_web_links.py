"""Issue 6: the Confirm / Cancel / Claim / Decline links in real emails do what they say, for
their recipient only, once; GET never changes anything. Links come out of the Maildir the
mailer wrote, and each POST goes through the real bus and store."""

from __future__ import annotations

import base64
import html
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from bookit import commands as c
from bookit.bootstrap import Service
from bookit.entrypoints.link_pages import http_address, link_command_id, serve_links
from bookit.links import Link
from bookit.projections import queries
from link_pages import buttons, free_port, links_server

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
THURSDAY = "2026-12-03"


def email_link(service: Service, kind: str, to: str, text: str) -> str:
    """The path of the button labelled `text` in the latest `kind` email to `to`."""
    messages = [m for m in service.mailer.outbox.messages() if m["X-BookIT-Kind"] == kind and m["To"] == to]
    assert messages, f"no {kind} email to {to}"
    url = buttons(messages[-1])[text]
    assert url.startswith("http://127.0.0.1:8080/l/")
    return url.removeprefix("http://127.0.0.1:8080")


def said(response: httpx.Response) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(response.text)


def status_of(service: Service, booking_id: str) -> str:
    return str(service.app.booking(UUID(booking_id)).status)


def topics(driver: Any) -> list[str]:
    return [type(e).TOPIC for e in driver.events()]


def flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def reforge(path: str, **changes: Any) -> str:
    """The same signature on a body with fields changed: what an attacker could try."""
    body, signature = path.removeprefix("/l/").split(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    names = ["action", "subject_id", "expires"]
    for name, value in changes.items():
        fields[names.index(name)] = value
    new_body = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode())
    return f"/l/{new_body.decode().rstrip('=')}.{signature}"


@contextmanager
def running_links(service: Service) -> Iterator[httpx.Client]:
    """The real server and a client for it."""
    port = free_port()
    with links_server(service, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


@pytest.fixture
def web(service: Service) -> Iterator[httpx.Client]:
    with running_links(service) as client:
        yield client


@pytest.fixture
def reminded(driver: Any) -> str:
    """Alice's Thursday booking, reminded by a tick 24 h before it starts."""
    venue = driver.venue()
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00")
    driver.tick(hours=29)
    return booking


@pytest.fixture
def offered(driver: Any) -> dict[str, str]:
    """Alice's booking is taken by a cancellation; Bob then Carol wait; Bob is offered it at 09:00."""
    venue = driver.venue()
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00")
    bob = driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    carol = driver.join(CAROL, venue, THURSDAY, "14:00", "16:00")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=booking)
    return {"venue": venue, "bob": bob, "carol": carol}


# --- GET says what will happen and changes nothing ---------------------------------------


def test_get_confirm_page_shows_venue_date_and_time_and_changes_nothing(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    before = topics(driver)
    for text in ("Confirm booking", "Cancel booking"):
        page = web.get(email_link(service, "reminder", ALICE, text))
        assert page.status_code == 200
        assert "Main Hall" in said(page)
        assert "Thursday 3 December 2026" in said(page)
        assert "14:00–16:00" in said(page)
        assert f'<form method="post" action="{page.url.path}"' in said(page)
        assert f">{text}</button>" in said(page)
        assert 'name="viewport"' in said(page)
    assert topics(driver) == before
    assert status_of(service, reminded) == "booked"


def test_every_link_response_is_private_and_never_cached(
    service: Service, web: httpx.Client, reminded: str
) -> None:
    for response in (
        web.get(email_link(service, "reminder", ALICE, "Confirm booking")),
        web.get("/l/not-a-token"),
        web.get("/elsewhere"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "noindex" in response.headers["x-robots-tag"]


# --- POST does exactly the CLI's command --------------------------------------------------


def test_post_confirm_link_confirms_the_booking_in_the_store(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Confirm booking")

    page = web.post(path)

    assert page.status_code == 200
    assert "Confirmed — see you on Thursday 3 December at 14:00." in said(page)
    assert status_of(service, reminded) == "confirmed"
    [confirmed] = [e for e in driver.events() if type(e).TOPIC == "booking.confirmed"]
    assert confirmed.actor == ALICE
    token = path.removeprefix("/l/")
    assert confirmed.command_id == str(
        link_command_id(service.links, service.links.read(token, driver.clock()))
    )
    assert queries.booking(service.engine, reminded)["status"] == "confirmed"


def test_post_cancel_link_cancels_the_booking(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    page = web.post(email_link(service, "reminder", ALICE, "Cancel booking"))

    assert page.status_code == 200
    assert "Cancelled. Your booking at Main Hall on Thursday 3 December at 14:00 is cancelled." in said(page)
    assert status_of(service, reminded) == "cancelled"


def test_a_rule_refusal_is_shown_in_words_and_writes_nothing(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    driver.send(c.CancelBooking, actor=ALICE, booking_id=reminded)
    path = email_link(service, "reminder", ALICE, "Confirm booking")
    before = topics(driver)

    shown = web.get(path)
    page = web.post(path)

    # What is true now, not an invitation to confirm a cancelled booking.
    assert "You cancelled this booking." in said(shown) and "Confirm your booking" not in said(shown)
    assert "<button" not in said(shown)
    assert page.status_code == 409
    assert "You cancelled this booking." in said(page)
    assert topics(driver) == before


def test_double_post_has_one_effect_and_answers_the_first_outcome_again(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Cancel booking")

    first, second = web.post(path), web.post(path)

    assert first.status_code == second.status_code == 200
    assert "Cancelled." in said(second)  # the first outcome, not "already cancelled"
    assert topics(driver).count("booking.cancelled") == 1


def test_a_respelled_token_is_the_same_link_with_the_same_one_effect(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    # A 32-byte signature leaves two spare bits in its last base64 character, so two spellings
    # decode to the same signed link; they must not count as two different commands.
    path = email_link(service, "reminder", ALICE, "Cancel booking")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = path[:-1] + alphabet[alphabet.index(path[-1]) ^ 1]
    assert respelled != path

    web.post(path)
    again = web.post(respelled)

    assert again.status_code == 200
    assert "Cancelled." in said(again)
    assert topics(driver).count("booking.cancelled") == 1


def test_reopening_a_used_link_shows_what_it_did_without_a_button(
    service: Service, web: httpx.Client, reminded: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Confirm booking")
    web.post(path)

    page = web.get(path)

    assert page.status_code == 200
    assert "Confirmed — see you on Thursday 3 December at 14:00." in said(page)
    assert "You already used this link" in said(page)
    assert "<button" not in said(page)


# --- Tokens cannot be forged, redirected, stretched or borrowed ---------------------------


@pytest.mark.parametrize("where", ["body", "signature"])
def test_tampered_link_is_a_400_page_and_changes_nothing(
    service: Service, driver: Any, web: httpx.Client, reminded: str, where: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Confirm booking")
    dot = path.index(".")
    tampered = flip(path, 6 if where == "body" else dot + 10)
    before = topics(driver)

    for response in (web.get(tampered), web.post(tampered)):
        assert response.status_code == 400
        assert "This link is not valid: it may have been altered or cut short." in said(response)
        assert "Main Hall" not in said(response)
    assert topics(driver) == before


@pytest.mark.parametrize("token", ["nonsense", "a.b.c", "%C3%A9.%C3%A9", "x" * 300 + "." + "y" * 43])
def test_malformed_link_is_a_400_page(web: httpx.Client, token: str) -> None:
    response = web.post(f"/l/{token}")
    assert response.status_code == 400
    assert "This link is not valid" in said(response)


def test_confirm_link_expires_when_the_booking_starts_with_a_410_page(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Confirm booking")
    driver.clock.set(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    before = topics(driver)

    for response in (web.get(path), web.post(path)):
        assert response.status_code == 410
        assert "This booking started Thursday 3 December at 14:00, so it can no longer be confirmed." in said(
            response
        )
    assert topics(driver) == before
    assert status_of(service, reminded) == "booked"


def test_a_link_cannot_be_pointed_at_another_booking_or_action(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    other = driver.book(ALICE, "main-hall", "2026-12-04", "10:00", "11:00")
    path = email_link(service, "reminder", ALICE, "Confirm booking")
    before = topics(driver)

    for forged in (reforge(path, subject_id=other), reforge(path, action="cancel")):
        assert web.post(forged).status_code == 400
    assert topics(driver) == before
    assert status_of(service, other) == "booked"
    assert status_of(service, reminded) == "booked"


def test_a_link_names_nobody_and_acts_as_the_owner_the_record_names(
    service: Service, driver: Any, web: httpx.Client, reminded: str
) -> None:
    path = email_link(service, "reminder", ALICE, "Cancel booking")
    body = path.removeprefix("/l/").split(".")[0]
    readable = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    starts = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    assert json.loads(readable) == ["cancel", reminded, int(starts.timestamp())]
    assert "@" not in readable and "alice" not in readable

    assert web.post(path).status_code == 200

    cancelled = [e for e in driver.events() if type(e).TOPIC == "booking.cancelled"]
    assert [e.actor for e in cancelled] == [ALICE]


def test_a_signed_link_to_a_waitlist_entry_acts_for_the_entry_owner_only(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    # Even a link the server signed itself, for Carol's entry (not offered yet), acts as Carol:
    # the entry refuses the claim as it would refuse Carol's own `bookit waitlist claim`.
    expires = driver.clock() + timedelta(minutes=15)
    path = "/l/" + service.links.token(Link("claim", offered["carol"], expires))
    before = topics(driver)

    response = web.post(path)

    assert response.status_code == 409
    assert "This offer is no longer open: the slot has not come free for you yet." in said(response)
    assert topics(driver) == before


# --- Waitlist offers ----------------------------------------------------------------------


def test_offer_page_states_the_deadline_and_counts_down_from_the_server_clock(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    path = email_link(service, "waitlist-offer", BOB, "Claim this slot")
    driver.clock.advance(minutes=5)

    page = web.get(path)

    assert page.status_code == 200
    assert 'Claim by <strong id="deadline">09:15</strong> (London time)' in said(page)
    assert 'data-seconds="600"' in said(page)
    assert ">10 minutes left<" in said(page)  # as people say it, not "10:00 left"
    assert "Thursday 3 December 2026" in said(page) and "14:00–16:00" in said(page)


def test_claim_link_books_the_slot_for_its_recipient(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    page = web.post(email_link(service, "waitlist-offer", BOB, "Claim this slot"))

    assert page.status_code == 200
    assert "It's yours — booked Main Hall on Thursday 3 December, 14:00–16:00." in said(page)
    [mine] = queries.booking_list(service.engine, user=BOB)
    assert mine["status"] == "confirmed"
    assert "waitlist.claimed" in topics(driver)


def test_claim_link_after_the_deadline_says_the_offer_expired_even_before_a_tick(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    path = email_link(service, "waitlist-offer", BOB, "Claim this slot")
    driver.clock.advance(minutes=15)
    before = topics(driver)

    for response in (web.get(path), web.post(path)):
        assert response.status_code == 410
        assert "Sorry, this offer expired at 09:15." in said(response)
    assert topics(driver) == before
    assert queries.booking_list(service.engine, user=BOB) == []


def test_decline_link_passes_the_offer_to_the_next_in_line(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    page = web.post(email_link(service, "waitlist-offer", BOB, "Decline the offer"))

    assert page.status_code == 200
    assert "Declined." in said(page)
    [carol] = queries.my_waitlist(service.engine, CAROL, driver.clock())
    assert carol["entry_id"] == offered["carol"] and carol["status"] == "offered"
    assert email_link(service, "waitlist-offer", CAROL, "Claim this slot")


def test_claim_link_after_declining_says_the_offer_is_no_longer_open(
    service: Service, driver: Any, web: httpx.Client, offered: dict[str, str]
) -> None:
    web.post(email_link(service, "waitlist-offer", BOB, "Decline the offer"))

    page = web.post(email_link(service, "waitlist-offer", BOB, "Claim this slot"))

    assert page.status_code == 409
    assert "You declined this offer; it went to the next person in line." in said(page)


# --- Serving ------------------------------------------------------------------------------


def test_http_address_comes_from_the_environment_with_loopback_defaults() -> None:
    assert http_address({}) == ("127.0.0.1", 8080)
    assert http_address({"BOOKIT_HTTP_HOST": "0.0.0.0", "BOOKIT_HTTP_PORT": "9000"}) == ("0.0.0.0", 9000)


def test_serve_links_stops_when_asked_and_the_link_still_worked(
    service: Service, driver: Any, reminded: str
) -> None:
    with running_links(service) as client:
        response = client.post(email_link(service, "reminder", ALICE, "Confirm booking"))
    assert "Confirmed" in said(response)
    with pytest.raises(httpx.ConnectError):
        httpx.post(str(response.url), timeout=5)


def test_serve_links_on_a_port_in_use_raises_at_once(service: Service) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            serve_links(service, "127.0.0.1", taken.getsockname()[1], threading.Event())
