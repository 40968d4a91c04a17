"""What a person reads when something is wrong, on the CLI (the real `bookit` group, in this
process, on a real store) and over HTTP (`detail` of the problem): the option or field as they
gave it, what to do instead, a date that does not exist called so, the waitlist when a slot is
taken, what a tick did; never pydantic's or a regular expression's text. Also the two inputs
that used to be refused or mangled: an end at 24:00 and a venue name with accents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api_client import People, main_hall_with_admin
from bookit.bootstrap import Service
from bookit.entrypoints.cli import main
from bookit.projections import queries

NOW = "2026-12-01T09:00:00Z"
ANN, BOB, ADMIN = "ann@example.com", "bob@example.com", "admin@example.com"
SLOT = ["--venue", "main-hall", "--date", "2026-12-05", "--start", "10:00", "--end", "12:00"]
BODY = {"venue_id": "main-hall", "date": "2026-12-05", "start": "10:00", "end": "12:00"}
# What only a library would say: pydantic's phrases, its docs links, a pattern, a type name.
INTERNALS = re.compile(
    r"pydantic|String should|Input should|value is not a valid|Value error|errors\.pydantic|"
    r"\^\[|\]\*\$|validation error|type=|UUID version|invalid_command",
)


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str, now: str = NOW) -> tuple[int, dict[str, Any], str]:
        result = self.runner.invoke(main, ["--home", str(self.home), "--now", now, "--json", *args])
        lines = result.stdout.strip().splitlines()
        return result.exit_code, json.loads(lines[-1]) if lines else {}, result.stderr


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    run = Cli(tmp_path / "cli-home")
    assert run("venue", "add", "--name", "Main Hall", "--tz", "Europe/London")[0] == 0
    return run


def said(cli: Cli, *args: str, code: int = 2) -> str:
    exit_code, obj, err = cli(*args)
    assert exit_code == code, (args, err)
    assert not INTERNALS.search(err), err
    assert err.startswith("error: ") and obj["error"] in err
    return err


def test_cli_names_the_option_as_typed_and_says_what_to_do(cli: Cli) -> None:
    user = said(cli, "book", "--user", "ann", *SLOT)
    assert "--user: 'ann' is not an email address; give one like ann@example.com" in user
    venue = said(cli, "book", "--user", ANN, "--venue", "Main Hall", *SLOT[2:])
    assert "--venue: 'Main Hall' is not a venue id; use the venue's id, e.g. main-hall" in venue
    assert "`bookit venue list`" in venue
    unknown = said(cli, "book", "--user", ANN, "--venue", "nowhere", *SLOT[2:])
    assert "unknown venue: nowhere; use the venue's id, e.g. main-hall" in unknown
    booking = said(cli, "confirm", "not-an-id", "--user", ANN)
    assert "BOOKING: 'not-an-id' is not a booking id" in booking
    by_id = said(cli, "venue", "add", "--name", "Hall", "--tz", "Europe/London", "--id", "Big Hall")
    assert "--id: 'Big Hall' is not a venue id" in by_id
    zone = said(cli, "venue", "add", "--name", "Hall", "--tz", "London")
    assert "--tz: unknown time zone: 'London' (use an IANA name like Europe/London)" in zone


def test_cli_says_a_date_does_not_exist_and_an_end_before_its_start(cli: Cli) -> None:
    absent = said(cli, "book", "--user", ANN, *SLOT[:2], "--date", "2027-02-30", *SLOT[4:])
    assert "--date: 2027-02-30 is not a date on the calendar" in absent and "malformed" not in absent
    malformed = said(cli, "book", "--user", ANN, *SLOT[:2], "--date", "5/12/2026", *SLOT[4:])
    assert "--date: malformed date '5/12/2026': expected YYYY-MM-DD" in malformed
    backwards = said(cli, "book", "--user", ANN, *SLOT[:4], "--start", "12:00", "--end", "10:00")
    assert "the end (10:00) must be after the start (12:00)" in backwards
    assert cli("book", "--user", ANN, *SLOT[:4], "--start", "12:00", "--end", "10:00")[1]["code"] == (
        "end_before_start"
    )
    time = said(cli, "book", "--user", ANN, *SLOT[:4], "--start", "9am", "--end", "10:00")
    assert "--start: malformed time '9am': expected HH:MM" in time


def test_cli_points_to_the_waitlist_when_a_slot_is_taken(cli: Cli) -> None:
    assert cli("book", "--user", ANN, *SLOT)[0] == 0
    taken = said(cli, "book", "--user", BOB, *SLOT, code=1)
    assert "slot is taken; join its waitlist" in taken and "bookit waitlist join" in taken


def test_tick_says_what_it_did(cli: Cli) -> None:
    assert cli("book", "--user", ANN, *SLOT)[0] == 0
    runner = cli.runner
    home = ["--home", str(cli.home)]
    quiet = runner.invoke(main, [*home, "--now", "2026-12-01T10:00Z", "tick"])
    assert quiet.exit_code == 0 and quiet.stdout.strip() == "2026-12-01T10:00:00Z: nothing was due"
    reminded = runner.invoke(main, [*home, "--now", "2026-12-04T10:00Z", "tick"])
    assert reminded.stdout.strip() == "2026-12-04T10:00:00Z: 1 reminder sent"
    cancelled = runner.invoke(main, [*home, "--now", "2026-12-05T08:00Z", "--json", "tick"])
    assert json.loads(cancelled.stdout)["done"] == {"auto_cancel": 1}


def test_an_end_at_24_00_books_up_to_midnight_on_the_cli(cli: Cli) -> None:
    code, booked, err = cli("book", "--user", ANN, *SLOT[:4], "--start", "22:00", "--end", "24:00")
    assert code == 0, err
    code, row, _ = cli("show", booked["booking_id"])
    assert (row["start"], row["end"]) == ("22:00", "24:00")
    # The next day is untouched: 00:00 there is free.
    code, _, err = cli(
        "book", "--user", BOB, *SLOT[:2], "--date", "2026-12-06", "--start", "00:00", "--end", "01:00"
    )
    assert code == 0, err
    assert "24:00" in said(cli, "book", "--user", BOB, *SLOT[:4], "--start", "24:00", "--end", "24:00")


def test_a_venue_name_with_accents_gives_a_transliterated_id(cli: Cli) -> None:
    assert cli("venue", "add", "--name", "Café Zoë", "--tz", "Europe/Paris")[1] == {"venue_id": "cafe-zoe"}
    assert cli("venue", "add", "--name", "Zürich Saal", "--tz", "Europe/Zurich")[1] == {
        "venue_id": "zurich-saal"
    }


# The same over HTTP: `detail` of the problem document


@pytest.fixture
def people(service: Service) -> Iterator[People]:
    with main_hall_with_admin(service, ADMIN) as crowd:
        yield crowd


def detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    problem = response.json()
    assert not INTERNALS.search(problem["detail"]), problem
    return str(problem["detail"])


def test_http_names_the_field_and_says_what_to_do(people: People) -> None:
    ann = people(ANN)
    venue = detail(ann.post("/api/bookings", json=BODY | {"venue_id": "Main Hall"}), 422)
    assert "venue_id: 'Main Hall' is not a venue id; use the venue's id, e.g. main-hall" in venue
    unknown = detail(ann.post("/api/bookings", json=BODY | {"venue_id": "nowhere"}), 404)
    assert "unknown venue: nowhere; use the venue's id" in unknown and "GET /api/venues" in unknown
    absent = detail(ann.post("/api/bookings", json=BODY | {"date": "2027-02-30"}), 422)
    assert "date: 2027-02-30 is not a date on the calendar" in absent
    backwards = detail(ann.post("/api/bookings", json=BODY | {"start": "12:00", "end": "10:00"}), 422)
    assert "the end (10:00) must be after the start (12:00)" in backwards
    missing = detail(ann.post("/api/bookings", json={"venue_id": "main-hall"}), 422)
    assert "date is required" in missing and "start is required" in missing
    booking = detail(ann.post("/api/bookings/not-an-id/confirm"), 422)
    assert "booking_id: 'not-an-id' is not a booking id" in booking
    limit = detail(ann.get("/api/bookings", params={"limit": "9999"}), 422)
    assert "limit must be at most 500" in limit
    huge = detail(ann.post("/api/waitlist", json=BODY | {"priority": 1000}), 422)
    assert "priority must be at most 100" in huge


def test_http_points_to_the_waitlist_when_a_slot_is_taken(people: People) -> None:
    assert people(ANN).post("/api/bookings", json=BODY).status_code == 201
    taken = detail(people(BOB).post("/api/bookings", json=BODY), 409)
    assert "slot is taken; join its waitlist" in taken and "POST /api/waitlist" in taken


def test_http_books_up_to_midnight_and_transliterates_venue_ids(service: Service, people: People) -> None:
    made = people(ANN).post("/api/bookings", json=BODY | {"start": "22:00", "end": "24:00"})
    assert made.status_code == 201, made.text
    day = people(ANN).get("/api/venues/main-hall/availability", params={"date": "2026-12-05"}).json()
    assert day["intervals"][-1] == {"start": "22:00", "end": "24:00", "state": "booked"}
    cafe = people(ADMIN).post("/api/venues", json={"name": "Café Zoë", "tz": "Europe/Paris"})
    assert (cafe.status_code, cafe.json()) == (201, {"venue_id": "cafe-zoe"})
    assert queries.venue(service.engine, "cafe-zoe") is not None


@pytest.mark.parametrize("exists", [False, True], ids=["no-home", "empty-home"])
def test_check_on_a_home_without_a_store_exits_2_and_creates_nothing(tmp_path: Path, exists: bool) -> None:
    home = tmp_path / "elsewhere"
    if exists:
        home.mkdir()
    result = CliRunner().invoke(main, ["--home", str(home), "check"])
    assert result.exit_code == 2
    assert f"error: no BookIT store in {home} (events.sqlite is missing)" in result.stderr
    assert "--home or BOOKIT_HOME" in result.stderr
    assert (list(home.iterdir()) if exists else home.exists()) in ([], False)
