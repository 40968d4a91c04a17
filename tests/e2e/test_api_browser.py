"""The HTTP API from a real browser (Debian's chromium): the plain page at /api/try books and
confirms with `fetch` and a pasted token, and reads the JSON it gets back. From another origin
the same page is stopped by the browser (CORS is off by default) and nothing is written; listing
that origin in BOOKIT_API_CORS_ORIGINS lets it through.

Needs /usr/bin/chromium (`apt-get install -y chromium`); Playwright never downloads a browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from api_client import ENV, api_server, free_port, token
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.projections import queries

CHROMIUM = Path("/usr/bin/chromium")
ANN = "ann@example.com"
# A second name for this machine, so a page can come from another origin than the API.
OTHER_HOST = "app.test"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {OTHER_HOST} 127.0.0.1",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def hall(service: Service) -> Service:
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    return service


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def _book_and_confirm(page: Page) -> dict[str, object]:
    page.fill("#token", token(ANN))
    page.click("#book")
    expect(page.locator("#status")).to_have_text("booked")
    expect(page.locator("#http")).to_have_text("201")
    booked = json.loads(page.inner_text("#out"))
    assert set(booked) == {"booking_id", "status"}
    page.click("#confirm")
    expect(page.locator("#status")).to_have_text("confirmed")
    confirmed = json.loads(page.inner_text("#out"))
    assert confirmed == {"booking_id": booked["booking_id"], "status": "confirmed"}
    return booked


def test_the_try_page_books_and_confirms_with_fetch(page: Page, hall: Service) -> None:
    with api_server(hall) as base:
        response = page.goto(f"{base}/api/try")
        assert response is not None and response.status == 200
        booked = _book_and_confirm(page)
    row = queries.booking(hall.engine, str(booked["booking_id"]))
    assert row is not None and (row["user"], row["status"], row["confirmed"]) == (ANN, "confirmed", True)


def test_another_origin_is_stopped_by_the_browser_and_writes_nothing(page: Page, hall: Service) -> None:
    port = free_port()
    with api_server(hall, port=port) as base:
        page.goto(f"http://{OTHER_HOST}:{port}/api/try?api={base}")
        page.fill("#token", token(ANN))
        page.click("#book")
        expect(page.locator("#status")).to_have_text("blocked")
        assert page.inner_text("#out").startswith("request failed")
    assert queries.booking_list(hall.engine) == []


def test_a_listed_origin_may_call_across_origins(page: Page, hall: Service) -> None:
    port = free_port()
    env = ENV | {"BOOKIT_API_CORS_ORIGINS": f"http://{OTHER_HOST}:{port}"}
    with api_server(hall, env=env, port=port) as base:
        page.goto(f"http://{OTHER_HOST}:{port}/api/try?api={base}")
        _book_and_confirm(page)
    assert [r["status"] for r in queries.booking_list(hall.engine)] == ["confirmed"]


def test_the_api_docs_work_with_the_network_blocked(browser: Browser, hall: Service) -> None:
    """/api/docs renders every operation from what BookIT serves itself: any request to another
    host is aborted, and none is even tried (Swagger UI used to come from a CDN: a blank page)."""
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_here(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    try:
        with api_server(hall) as base:
            context.route("**/*", only_here)
            page = context.new_page()
            response = page.goto(f"{base}/api/docs")
            assert response is not None and response.status == 200
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("BookIT")
            expect(page.locator(".opblock-summary-path[data-path='/api/bookings']").first).to_be_visible()
            paths = page.locator(".opblock-summary-path").all_inner_texts()
    finally:
        context.close()
    assert elsewhere == []
    assert {"/api/bookings", "/api/venues", "/api/waitlist/mine"} <= {p.replace("\u200b", "") for p in paths}
