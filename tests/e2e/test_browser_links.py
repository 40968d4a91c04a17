"""Issue 6 end to end: a person opens the button link from a real email in the Maildir in a real
headless Chromium, reads the page, presses the button, sees the outcome, and the event store
agrees. Screenshots of each page state land in docs/screenshots/ (linked from docs/links.md).

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`); Playwright only
drives it and never downloads a browser of its own.
"""

from __future__ import annotations

import base64
import json
import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from bookit import commands as c
from bookit.bootstrap import Service, bootstrap
from link_pages import buttons, free_port, links_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ALICE, BOB = "alice@example.com", "bob@example.com"
THURSDAY = "2026-12-03"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def service(tmp_path: Path, clock: Any, port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    # The links in the emails point at the server this test runs, as BOOKIT_LINK_BASE says.
    monkeypatch.setenv("BOOKIT_LINK_BASE", f"http://127.0.0.1:{port}")
    svc = bootstrap(tmp_path / "home", clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def page(service: Service, port: int, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
    try:
        with links_server(service, port):
            yield context.new_page()
    finally:
        context.close()


def link_in_mail(service: Service, kind: str, to: str, button: str) -> str:
    """The URL behind `button` in the newest `kind` email to `to`, read from the Maildir."""
    parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
    box = mailbox.Maildir(service.home / "outbox", factory=None, create=False)
    found = [parse(m.as_bytes()) for m in box]
    found = [m for m in found if m["X-BookIT-Kind"] == kind and m["To"] == to]
    assert found, f"no {kind} email to {to} in the Maildir"
    newest = max(found, key=lambda m: m["Date"].datetime)
    return buttons(newest)[button]


def topics(driver: Any) -> list[str]:
    return [type(e).TOPIC for e in driver.events()]


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def reminded_booking(driver: Any) -> str:
    booking = driver.book(ALICE, driver.venue(), THURSDAY, "14:00", "16:00", purpose="Choir practice")
    driver.tick(hours=29)  # Wednesday 14:00: the reminder with Confirm and Cancel goes out
    return str(booking)


def offer_for_bob(driver: Any) -> None:
    venue = driver.venue()
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00")
    driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=booking)  # at 09:00: offered until 09:15


def test_confirm_link_from_the_reminder_email_confirms_in_the_browser(
    page: Page, service: Service, driver: Any
) -> None:
    reminded_booking(driver)
    url = link_in_mail(service, "reminder", ALICE, "Confirm booking")
    before = topics(driver)

    response = page.goto(url)

    assert response is not None and response.status == 200
    assert page.title() == "Confirm your booking · BookIT"
    assert page.inner_text("[data-field=venue]") == "Main Hall"
    assert page.inner_text("[data-field=date]") == "Thursday 3 December 2026"
    assert page.inner_text("[data-field=time]") == "14:00–16:00 (London time)"
    assert topics(driver) == before, "opening the link must change nothing"
    shoot(page, "confirm-page.png")

    page.get_by_role("button", name="Confirm booking").click()

    page.wait_for_selector("#outcome")
    assert page.inner_text("#outcome") == "Confirmed — see you on Thursday 3 December at 14:00."
    assert page.inner_text("[data-field=status]") == "Confirmed"
    shoot(page, "confirmed.png")
    confirmed = [e for e in driver.events() if type(e).TOPIC == "booking.confirmed"]
    assert [e.actor for e in confirmed] == [ALICE]


def test_claim_link_from_the_offer_email_books_the_slot_in_the_browser(
    page: Page, service: Service, driver: Any
) -> None:
    offer_for_bob(driver)
    driver.clock.advance(minutes=3)

    page.goto(link_in_mail(service, "waitlist-offer", BOB, "Claim this slot"))

    assert page.inner_text("#deadline") == "09:15"
    assert "Claim by 09:15 (London time)." in page.inner_text(".deadline")
    # The countdown starts from the server's 12 minutes and then runs in the page, said in
    # whole minutes as people say it ("11 minutes left", never "11:59 left").
    # Playwright's own polling, not page-side eval: the page's CSP rightly forbids eval.
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^11 minutes left$"), timeout=15_000)
    shoot(page, "offer-page.png")

    page.get_by_role("button", name="Claim this slot").click()

    page.wait_for_selector("#outcome")
    assert page.inner_text("#outcome") == "It's yours — booked Main Hall on Thursday 3 December, 14:00–16:00."
    shoot(page, "claimed.png")
    claimed = [e for e in driver.events() if type(e).TOPIC == "waitlist.claimed"]
    assert [e.actor for e in claimed] == [BOB]
    booked = [e for e in driver.events() if type(e).TOPIC == "booking.booked" and e.user == BOB]
    assert len(booked) == 1 and booked[0].confirmed


def test_countdown_running_out_disables_the_claim_button(page: Page, service: Service, driver: Any) -> None:
    offer_for_bob(driver)
    driver.clock.advance(minutes=14, seconds=58)

    page.goto(link_in_mail(service, "waitlist-offer", BOB, "Claim this slot"))

    expect(page.get_by_role("button", name="Claim this slot")).to_be_disabled(timeout=15_000)
    assert page.inner_text("#countdown") == "Time is up"


def test_claim_link_after_the_deadline_says_sorry_with_the_local_time(
    page: Page, service: Service, driver: Any
) -> None:
    offer_for_bob(driver)
    url = link_in_mail(service, "waitlist-offer", BOB, "Claim this slot")
    driver.clock.advance(minutes=16)
    before = topics(driver)

    response = page.goto(url)

    assert response is not None and response.status == 410
    assert page.inner_text("#outcome") == "Sorry, this offer expired at 09:15."
    assert page.locator("button").count() == 0
    shoot(page, "expired.png")
    assert topics(driver) == before


def test_tampered_link_shows_an_invalid_link_page(page: Page, service: Service, driver: Any) -> None:
    reminded_booking(driver)
    url = link_in_mail(service, "reminder", ALICE, "Confirm booking")
    at = url.index("/l/") + 8
    tampered = url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1 :]
    before = topics(driver)

    response = page.goto(tampered)

    assert response is not None and response.status == 400
    assert page.inner_text("h1") == "This link does not work"
    assert "not valid: it may have been altered" in page.inner_text("#outcome")
    assert "Main Hall" not in page.content()
    shoot(page, "invalid-link.png")
    assert topics(driver) == before


def test_a_link_names_nobody_and_cannot_be_pointed_at_someone_elses_booking(
    page: Page, service: Service, driver: Any
) -> None:
    booking = reminded_booking(driver)
    bobs = str(driver.book(BOB, "main-hall", "2026-12-04", "10:00", "11:00"))
    url = link_in_mail(service, "reminder", ALICE, "Cancel booking")
    before = topics(driver)

    # What the address bar (and every proxy log) shows: an action, an id, an expiry; no address.
    base, token = url.split("/l/")
    body, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert fields[:2] == ["cancel", booking] and len(fields) == 3
    assert "@" not in base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()

    # Pointing Alice's token at Bob's booking breaks its signature.
    fields[1] = bobs
    rewritten = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()
    response = page.goto(f"{base}/l/{rewritten.rstrip('=')}.{signature}")
    assert response is not None and response.status == 400
    assert page.inner_text("h1") == "This link does not work"
    assert "Main Hall" not in page.content()
    assert topics(driver) == before
    assert service.app.booking(UUID(bobs)).status == "booked"


def test_double_click_and_a_second_tab_cancel_once(page: Page, service: Service, driver: Any) -> None:
    reminded_booking(driver)
    url = link_in_mail(service, "reminder", ALICE, "Cancel booking")
    posts: list[str] = []
    page.context.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    other_tab = page.context.new_page()
    page.goto(url)
    other_tab.goto(url)  # opened before the first click: its button is still there

    page.get_by_role("button", name="Cancel booking").dblclick()
    page.wait_for_selector("#outcome")
    other_tab.get_by_role("button", name="Cancel booking").click()
    other_tab.wait_for_selector("#outcome")

    assert len(posts) >= 2
    for tab in (page, other_tab):
        # Every submission gets the first outcome back, not "already cancelled".
        assert tab.inner_text("#outcome").startswith("Cancelled. Your booking at Main Hall")
    assert topics(driver).count("booking.cancelled") == 1


# Issue 31: the venue page "Book again" leads to, and link pages that say what is true now, at a
# small phone's width (375 px), with nothing overflowing sideways.


@pytest.fixture
def phone(service: Service, port: int, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        with links_server(service, port):
            yield context.new_page()
    finally:
        context.close()


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide at 375 px"


def test_the_book_again_button_opens_the_venue_page_at_a_phones_width(
    phone: Page, service: Service, driver: Any
) -> None:
    venue = driver.venue()
    booking = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00", purpose="Choir practice")
    driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    driver.book("carol@example.com", venue, THURSDAY, "10:00", "11:30")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=booking)

    response = phone.goto(link_in_mail(service, "booking-cancelled", ALICE, "Book again"))

    assert response is not None and response.status == 200
    assert phone.inner_text("h1") == "Main Hall"
    thursday = phone.locator(f"[data-date='{THURSDAY}'] li")
    assert thursday.all_inner_texts() == [
        "00:00–10:00\nFree",
        "10:00–11:30\nBooked",
        "11:30–14:00\nFree",
        "14:00–16:00\nHeld for someone on the waitlist",
        "16:00–24:00\nFree",
    ]
    assert "alice" not in phone.content().lower() and "Choir" not in phone.content()
    fits(phone)
    shoot(phone, "venue-page.png")


def test_a_claim_link_after_claiming_elsewhere_says_it_is_claimed_at_a_phones_width(
    phone: Page, service: Service, driver: Any
) -> None:
    offer_for_bob(driver)
    url = link_in_mail(service, "waitlist-offer", BOB, "Claim this slot")
    [entry] = [e.entry_id for e in driver.events() if type(e).TOPIC == "waitlist.notified"]
    driver.send(c.ClaimOffer, actor=BOB, entry_id=entry)  # over the CLI or the API, not this link

    phone.goto(url)

    assert phone.inner_text("h1") == "You claimed it"
    assert phone.locator("button").count() == 0
    fits(phone)
    shoot(phone, "claimed-elsewhere.png")


def test_a_confirm_link_after_an_auto_cancellation_says_why_at_a_phones_width(
    phone: Page, service: Service, driver: Any
) -> None:
    reminded_booking(driver)
    driver.clock.set(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    driver.tick()  # never confirmed: auto-cancelled at 12:00

    phone.goto(link_in_mail(service, "reminder", ALICE, "Confirm booking"))

    assert phone.inner_text("h1") == "Cancelled automatically"
    assert phone.inner_text("#outcome") == (
        "This booking was cancelled automatically: it was not confirmed by 12:00 on Thursday 3 December."
    )
    assert phone.locator("button").count() == 0
    fits(phone)
    shoot(phone, "auto-cancelled-confirm-link.png")


def test_the_offer_page_counts_down_in_minutes_at_a_phones_width(
    phone: Page, service: Service, driver: Any
) -> None:
    offer_for_bob(driver)
    driver.clock.advance(minutes=5)

    phone.goto(link_in_mail(service, "waitlist-offer", BOB, "Claim this slot"))

    expect(phone.locator("#countdown")).to_have_text(re.compile(r"^(10|9) minutes left$"), timeout=15_000)
    fits(phone)
    shoot(phone, "offer-page-375.png")
