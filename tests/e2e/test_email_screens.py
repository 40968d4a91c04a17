"""Every kind of email, opened in Debian's Chromium at a phone's width (375 px), as a mail app
shows it: nothing may overflow sideways, the email's main button (or, without one, what to do
next) must be on the first screen, and the HTML must not fetch anything. A screenshot of each
is kept in docs/screenshots/emails/ (linked from the README).

The emails are the mailer's own: each email-owing event of tests/unit/test_mail_owed.py's
scenarios (one per event type, kept complete there) judged by the pure half of the mailer and
composed as the mailer composes them.

Needs /usr/bin/chromium (`apt-get install -y chromium`); Playwright only drives it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from bookit.adapters.mail import KINDS, compose_email
from bookit.policies.mail.owed import Facts, emails_owed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import test_mail_owed as scenarios  # noqa: E402  (the scenarios live with the unit tests)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "emails"
WIDTH, HEIGHT = 375, 667  # a small phone's first screen
SENT_AT = datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)
# The button an email is for; the others say what to do in their second line.
MAIN_BUTTON = {
    "reminder": "Confirm booking",
    "auto-cancelled": "Book again",
    "booking-cancelled": "Book again",
    "waitlist-offer": "Claim this slot",
    "check-in": "Check in",
}


def every_kind() -> dict[str, EmailMessage]:
    """One composed email of each kind, from the scenario of each email-owing event."""
    found: dict[str, EmailMessage] = {}
    for build in scenarios.SCENARIOS.values():
        aggregate = build()
        event = aggregate.collect_events()[-1]
        for email in emails_owed(Facts(event, aggregate, scenarios.VENUE, scenarios.LINKS)):
            found.setdefault(
                email.kind,
                compose_email(
                    email.kind,
                    to=email.to,
                    message_id=email.message_id,
                    sent_at=SENT_AT,
                    subject_id=email.subject_id,
                    context=email.context | {"name": "Ann Smith"},
                    to_name="Ann Smith",
                    calendar=email.calendar,
                ),
            )
    return found


EMAILS = every_kind()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        yield playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


@pytest.fixture
def phone(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True)
    fetched: list[str] = []

    def refuse(route: Route) -> None:
        fetched.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    try:
        yield context.new_page(), fetched
    finally:
        context.close()


def test_every_kind_has_an_email_here() -> None:
    assert set(EMAILS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(EMAILS))
def test_each_email_fits_a_phone_with_its_main_action_on_the_first_screen(
    phone: tuple[Page, list[str]], kind: str
) -> None:
    page, fetched = phone
    html = EMAILS[kind].get_body(("html",))
    assert html is not None
    page.set_content(str(html.get_content()), wait_until="load")

    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, "it scrolls sideways"
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= WIDTH, f"an element reaches {widest}px"
    if kind in MAIN_BUTTON:
        target = page.get_by_role("link", name=MAIN_BUTTON[kind])
        assert page.locator("a").first.inner_text() == MAIN_BUTTON[kind], "the main button comes first"
    else:
        target = page.locator("h1 + p")  # what to do next, right under why it was sent
    box = target.bounding_box()
    assert box is not None and box["height"] > 0
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    assert box["y"] + box["height"] <= HEIGHT, f"{kind}: its main action is below the first screen"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("document.documentElement.dir") == "ltr"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{kind}.png"), full_page=True)
    assert fetched == [], f"the email fetched {fetched}"
