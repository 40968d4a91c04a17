"""`bookit person export` and `GET /api/me/export`: everything BookIT holds about one person,
and nothing about anyone else (CONTRACT "Personal data: export and erasure")."""

from __future__ import annotations

import json

from click.testing import CliRunner

from api_client import people_on
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.entrypoints.cli import main
from bookit.personal.export import export_person
from bookit.projections import queries
from conftest import Driver

ANN, BOB = "ann.example@example.com", "bob.other@example.com"


def story(driver: Driver) -> tuple[str, str, str]:
    hall = driver.venue()
    choir = driver.send(
        c.BookVenue,
        actor=ANN,
        venue_id=hall,
        date="2026-12-05",
        start="10:00",
        end="12:00",
        purpose="Choir practice",
        name="Ann Example",
    )["booking_id"]
    flu = driver.book(ANN, hall, "2026-12-06", "10:00", "11:00", purpose="Tea party")
    driver.send(c.CancelBooking, actor=ANN, booking_id=flu, reason="Down with flu")
    driver.book(BOB, hall, "2026-12-07", "10:00", "11:00", purpose="Bob's band")
    entry = driver.join(ANN, hall, "2026-12-07", "10:00", "11:00", name="Annie E.")
    return str(choir), flu, entry


def test_an_export_holds_the_persons_bookings_words_queues_and_emails(driver: Driver) -> None:
    choir, flu, entry = story(driver)
    document = export_person(driver.service.engine, ANN)
    assert document is not None and document["email"] == ANN
    assert document["names"] == ["Ann Example", "Annie E."] and document["admin"] is False
    by_id = {b["booking_id"]: b for b in document["bookings"]}
    assert set(by_id) == {choir, flu}
    assert by_id[choir]["purpose"] == "Choir practice" and by_id[choir]["name"] == "Ann Example"
    assert by_id[flu]["status"] == "cancelled" and by_id[flu]["cancel_reason"] == "Down with flu"
    assert [(e["entry_id"], e["name"]) for e in document["waitlist_entries"]] == [(entry, "Annie E.")]
    mine = [row for row in queries.outbox(driver.service.engine) if row["recipient"] == ANN]
    assert mine and [m["message_id"] for m in document["emails_sent"]] == [m["message_id"] for m in mine]
    assert {m["kind"] for m in document["emails_sent"]} >= {"booking-confirmed"}
    text = json.dumps(document)
    assert "bob" not in text.lower() and "band" not in text  # nothing about anyone else


def test_exporting_an_address_bookit_never_saw_is_bad_input_on_the_cli(driver: Driver) -> None:
    story(driver)
    home = str(driver.service.home)
    runner = CliRunner()
    unknown = runner.invoke(main, ["--home", home, "person", "export", "carol@example.com"])
    assert unknown.exit_code == 2 and "holds nothing about that address" in unknown.output
    malformed = runner.invoke(main, ["--home", home, "person", "export", "not-an-address"])
    assert malformed.exit_code == 2 and "not an email address" in malformed.output
    known = runner.invoke(main, ["--home", home, "--json", "person", "export", ANN])
    assert known.exit_code == 0
    assert json.loads(known.output) == export_person(driver.service.engine, ANN)


def test_the_api_exports_the_callers_own_data_only(driver: Driver) -> None:
    story(driver)
    with people_on(driver.service) as people:
        own = people(ANN).get("/api/me/export")
        stranger = people("carol@example.com").get("/api/me/export")
    assert own.status_code == 200 and own.json() == export_person(driver.service.engine, ANN)
    assert stranger.status_code == 404
    assert stranger.headers["content-type"].startswith("application/problem+json")
    assert stranger.json()["code"] == "unknown_person"


def test_an_export_holds_the_quota_used_and_the_strikes_earned(driver: Driver) -> None:
    hall = driver.venue()
    driver.send(
        c.SetVenueRules, actor=SYSTEM, venue_id=hall, quota_bookings="3/week", late_cancel_minutes=2880
    )
    late = driver.book(ANN, hall, "2026-12-02", "10:00", "11:00")
    driver.send(c.CancelBooking, actor=ANN, booking_id=late)  # within 48 h: a strike
    kept = driver.book(ANN, hall, "2026-12-03", "10:00", "12:00")
    document = export_person(driver.service.engine, ANN)
    assert document is not None
    assert [(s["booking_id"], s["reason"]) for s in document["strikes"]] == [(late, "late_cancel")]
    (week,) = document["quota_use"]
    assert (week["venue_id"], week["period"], week["bookings"], week["minutes"]) == (hall, "week", 1, 120)
    assert kept in {b["booking_id"] for b in document["bookings"]}
