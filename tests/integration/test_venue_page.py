"""Issue 31: the emails' "Book again" button leads somewhere real. Without BOOKIT_APP_URL it is
the venue page `bookit run` serves at /venues/<id>: the asked day and the days after it, each
as free / booked / held intervals from the API's own availability query, naming nobody. With
BOOKIT_APP_URL the button leads to the app in front of BookIT instead."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bookit import commands as c
from bookit.bootstrap import Service, bootstrap
from bookit.projections import queries
from link_pages import buttons, free_port, links_server

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
THURSDAY = "2026-12-03"
ROW = re.compile(
    r'<li class="(\w+)" data-state="\w+"><span class="time">(\d\d:\d\d)–(\d\d:\d\d)</span>'
    r' <span class="state">([^<]+)</span></li>'
)


@pytest.fixture
def web(service: Service) -> Iterator[httpx.Client]:
    port = free_port()
    with links_server(service, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client


def sent(service: Service, kind: str) -> list[Any]:
    return [m for m in service.mailer.outbox.messages() if m["X-BookIT-Kind"] == kind]


def day_rows(page: str, date: str) -> list[dict[str, str]]:
    section = page.split(f'data-date="{date}"', 1)[1].split("</section>", 1)[0]
    return [{"start": s, "end": e, "state": state} for state, s, e, _ in ROW.findall(section)]


def a_busy_thursday(driver: Any) -> dict[str, str]:
    """Alice books 14-16 and cancels it for Bob, who waits (held for him); Carol books 10-11."""
    venue = driver.venue()
    alice = driver.book(ALICE, venue, THURSDAY, "14:00", "16:00", purpose="Alice's secret party")
    driver.join(BOB, venue, THURSDAY, "14:00", "16:00")
    driver.book(CAROL, venue, THURSDAY, "10:00", "11:00")
    driver.send(c.CancelBooking, actor=ALICE, booking_id=alice)
    return {"venue": venue, "alice": alice}


def test_the_book_again_button_leads_to_the_venue_page_of_that_day(
    service: Service, driver: Any, web: httpx.Client
) -> None:
    a_busy_thursday(driver)
    [cancelled] = sent(service, "booking-cancelled")
    url = buttons(cancelled)["Book again"]
    assert url == f"http://127.0.0.1:8080/venues/main-hall?date={THURSDAY}"

    page = web.get(url.removeprefix("http://127.0.0.1:8080"))

    assert page.status_code == 200
    said = html.unescape(page.text)
    assert "<h1>Main Hall</h1>" in said and "Times are London time." in said
    assert 'name="viewport"' in said
    # The asked day and the six after it, each from the API's own availability query.
    dates = re.findall(r'data-date="([\d-]+)"', said)
    assert dates == [f"2026-12-{day:02}" for day in range(3, 10)]
    for date in dates:
        assert day_rows(said, date) == queries.availability(service.engine, "main-hall", date)
    assert day_rows(said, THURSDAY) == [
        {"start": "00:00", "end": "10:00", "state": "free"},
        {"start": "10:00", "end": "11:00", "state": "booked"},
        {"start": "11:00", "end": "14:00", "state": "free"},
        {"start": "14:00", "end": "16:00", "state": "held"},
        {"start": "16:00", "end": "24:00", "state": "free"},
    ]
    assert "Held for someone on the waitlist" in said
    # Nobody is named: no address, no name, no purpose.
    for private in ("alice", "bob", "carol", "@", "secret party"):
        assert private not in said.lower()


def test_the_venue_page_without_a_date_shows_today_on_the_venues_wall_clock(
    driver: Any, web: httpx.Client
) -> None:
    driver.venue(name="Harbour Room", tz="Pacific/Auckland", venue_id="harbour")
    page = web.get("/venues/harbour")  # 09:00 UTC on 1 December is 22:00 there
    assert page.status_code == 200
    assert re.findall(r'data-date="([\d-]+)"', page.text)[0] == "2026-12-01"
    assert "Times are Auckland time." in page.text


def test_an_unknown_venue_or_a_bad_date_is_a_clear_page_never_a_server_error(
    driver: Any, web: httpx.Client
) -> None:
    driver.venue()
    missing = web.get("/venues/nowhere")
    assert missing.status_code == 404 and "No such venue" in missing.text
    for bad in ("2026-02-30", "tomorrow", "9999-12-31", "0001-01-01"):
        page = web.get("/venues/main-hall", params={"date": bad})
        assert page.status_code == 400, bad
        assert "Not a date" in page.text
    assert web.post("/venues/main-hall").status_code in (404, 405)


def test_with_an_app_url_the_button_leads_to_the_app(
    tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKIT_APP_URL", "https://app.example/book/{venue_id}?day={date}&again={booking_id}")
    service = bootstrap(tmp_path / "home", clock=clock)
    try:
        service.bus.handle(c.build(c.RegisterVenue, actor="system", name="Main Hall", tz="Europe/London"))
        booked = service.bus.handle(
            c.build(c.BookVenue, actor=ALICE, venue_id="main-hall", date=THURSDAY, start="14:00", end="16:00")
        )
        service.bus.handle(c.build(c.CancelBooking, actor=ALICE, booking_id=booked["booking_id"]))
        [cancelled] = sent(service, "booking-cancelled")
        assert buttons(cancelled)["Book again"] == (
            f"https://app.example/book/main-hall?day={THURSDAY}&again={booked['booking_id']}"
        )
    finally:
        service.close()


@pytest.mark.parametrize(
    "template", ["app.example/{venue_id}", "https://app.example/{venue}", "https://app.example/{date"]
)
def test_a_bad_app_url_is_refused_naming_the_variable(
    template: str, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKIT_APP_URL", template)
    with pytest.raises(ValueError, match="BOOKIT_APP_URL"):
        bootstrap(tmp_path / "home", clock=clock)
