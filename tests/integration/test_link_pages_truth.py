"""Issue 31: every link page says what is true now of what it is about, whichever door changed
it, and never invites an action that can no longer succeed: claimed by you (here or over the
CLI/HTTP), taken by someone else, expired, the booking cancelled and why."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from bookit import commands as c
from bookit.bootstrap import Service
from link_pages import buttons, free_port, links_server

ADMIN, ALICE, BOB, CAROL = "admin@example.com", "alice@example.com", "bob@example.com", "carol@example.com"
THURSDAY = "2026-12-03"


@pytest.fixture
def web(service: Service) -> Iterator[httpx.Client]:
    port = free_port()
    with links_server(service, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def link(service: Service, kind: str, to: str, button: str) -> str:
    sent = [m for m in service.mailer.outbox.messages() if m["X-BookIT-Kind"] == kind and m["To"] == to]
    assert sent, f"no {kind} email to {to}"
    return buttons(sent[-1])[button].removeprefix("http://127.0.0.1:8080")


def said(response: httpx.Response) -> str:
    return html.unescape(response.text)


def offer_for_bob(driver: Any) -> str:
    venue = driver.venue()
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00")
    entry = driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=booking)  # 09:00: Bob offered until 09:15
    return entry


def test_a_claim_made_at_another_door_shows_claimed_on_the_claim_link_not_an_invitation(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    entry = offer_for_bob(driver)
    claim = link(service, "waitlist-offer", BOB, "Claim this slot")
    driver.send(c.ClaimOffer, actor=BOB, entry_id=entry)  # as `bookit waitlist claim` or the API

    for page in (web.get(claim), web.get(link(service, "waitlist-offer", BOB, "Decline the offer"))):
        assert page.status_code == 200
        assert "You claimed this slot: Main Hall on Thursday 3 December, 14:00–16:00 is booked" in said(page)
        assert "A slot is free for you" not in said(page) and "<button" not in said(page)


def test_the_claimant_opening_the_link_after_the_window_reads_that_he_claimed_it(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    offer_for_bob(driver)
    claim = link(service, "waitlist-offer", BOB, "Claim this slot")
    assert web.post(claim).status_code == 200
    driver.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # the link expired at 09:15

    page = web.get(claim)

    assert page.status_code == 410
    assert "You claimed this slot" in said(page) and "expired" not in said(page)


def test_an_offer_someone_else_claimed_first_says_so_and_keeps_the_place_in_line(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    driver.send(c.GrantAdmin, actor="system", email=ADMIN)
    venue = driver.venue()
    driver.send(c.SetVenueRules, actor=ADMIN, venue_id=venue, offer_mode="all")
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00")
    driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    carol = driver.join(CAROL, venue, THURSDAY, "14:00", "16:00")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=booking)  # both offered at once
    bobs_link = link(service, "waitlist-offer", BOB, "Claim this slot")
    driver.send(c.ClaimOffer, actor=CAROL, entry_id=carol)

    page = web.get(bobs_link)

    assert page.status_code == 200
    assert (
        "Someone else offered the same time claimed it first. You keep your place in line: number 1."
        in said(page)
    )
    assert "<button" not in said(page)
    before = len(driver.events())
    assert web.post(bobs_link).status_code == 409  # and pressing anyway changes nothing
    assert len(driver.events()) == before


def test_a_confirm_link_after_an_auto_cancellation_says_it_was_cancelled_and_why_in_local_time(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    driver.venue(tz="Europe/Paris")
    booking = driver.book(ALICE, "main-hall", THURSDAY, "15:00", "17:00")  # 14:00 UTC
    driver.clock.set(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    driver.tick()  # reminded
    driver.clock.set(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    driver.tick()  # not confirmed: auto-cancelled
    assert service.app.booking(UUID(booking)).status == "auto_cancelled"
    confirm = link(service, "reminder", ALICE, "Confirm booking")
    cancelled = (
        "This booking was cancelled automatically: it was not confirmed by 13:00 on Thursday 3 December."
    )

    before_start = web.get(confirm)
    driver.clock.set(datetime(2026, 12, 3, 16, 0, tzinfo=UTC))  # the link itself has expired
    after_start = web.get(confirm)

    assert before_start.status_code == 200 and cancelled in said(before_start)
    assert "<button" not in said(before_start) and "Confirm your booking" not in said(before_start)
    assert after_start.status_code == 410 and cancelled in said(after_start)
    assert "stopped working" not in said(after_start)


def test_the_offer_page_says_minutes_left_and_the_zone_as_people_say_them(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    offer_for_bob(driver)
    driver.clock.advance(seconds=20)

    page = said(web.get(link(service, "waitlist-offer", BOB, "Claim this slot")))

    assert ">14 minutes left<" in page and "14:40 left" not in page
    assert 'Claim by <strong id="deadline">09:15</strong> (London time).' in page
    assert "Europe/London" not in page
