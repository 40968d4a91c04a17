"""The venue-rules story through the real `bookit` executable (issue 12, DESIGN rules 12-14):
an admin sets the rules, a booking is refused for each of them, a no-show is released to the
waitlist and claimed, three strikes suspend a user, and an admin clears them."""

from __future__ import annotations

import mailbox
from typing import Any

from e2e.test_cli import Bookit, bookit

__all__ = ["bookit"]  # the fixture: a home with the venue main-hall

ADMIN, ANN, BOB = "admin@example.com", "ann@example.com", "bob@example.com"
DAY = "2026-12-05"  # Europe/London is UTC in December


def book(cli: Bookit, user: str, start: str, end: str, day: str = DAY, now: str | None = None) -> Any:
    return cli(
        "book", "--user", user, "--venue", "main-hall", "--date", day, "--start", start, "--end", end, now=now
    )


def at(clock: str, day: str = DAY) -> str:
    return f"{day}T{clock}:00Z"


def test_rule_12_13_14_the_venue_rules_story(bookit: Bookit) -> None:
    bookit.ok("admin", "add", ADMIN)
    rules = bookit.ok(
        "venue",
        "rules",
        "main-hall",
        "--user",
        ADMIN,
        "--buffer-minutes",
        "15",
        "--min-notice-minutes",
        "60",
        "--max-advance-days",
        "30",
        "--min-duration-minutes",
        "30",
        "--max-duration-minutes",
        "180",
        "--quota-bookings",
        "3/day",
        "--check-in-minutes",
        "15",
        "--late-cancel-minutes",
        "120",
        "--no-show-strikes",
        "3",
        "--strike-days",
        "30",
    ).one
    assert rules["rules"]["buffer_minutes"] == 15 and "quotas" in rules["changed"]
    shown = bookit.ok("venue", "rules", "main-hall", as_json=False).out
    assert "check_in_minutes\t15" in shown and "quota_bookings\t3/day" in shown
    not_admin = bookit("venue", "rules", "main-hall", "--user", ANN, "--buffer-minutes", "0")
    assert (not_admin.code, not_admin.one["code"]) == (1, "not_admin")
    bad = bookit("venue", "rules", "main-hall", "--quota-hours", "lots/day")
    assert bad.code == 2 and "--quota-hours" in bad.err
    history = bookit.ok("venue", "history", "main-hall").objects
    assert [h["topic"] for h in history] == ["venue.registered", "venue.rules_set"]
    assert history[1]["actor"] == ADMIN

    # A booking refused for each rule (now: 2026-12-01 09:00)
    refusals = {
        "too_short": book(bookit, ANN, "10:00", "10:15"),
        "too_long": book(bookit, ANN, "10:00", "13:30"),
        "too_soon": book(bookit, ANN, "09:30", "10:30", day="2026-12-01"),
        "too_far_ahead": book(bookit, ANN, "10:00", "11:00", day="2027-01-05"),
    }
    first = bookit.ok(
        "book", "--user", ANN, "--venue", "main-hall", "--date", DAY, "--start", "10:00", "--end", "11:00"
    ).one
    refusals["buffer_conflict"] = book(bookit, BOB, "11:05", "12:00")
    book(bookit, ANN, "12:00", "13:00")
    book(bookit, ANN, "14:00", "15:00")
    refusals["quota_exceeded"] = book(bookit, ANN, "16:00", "17:00")
    for code, run in refusals.items():
        assert (run.code, run.one["code"]) == (1, code), (code, run.err)

    # A no-show released to the waitlist and claimed
    entry = bookit.ok(
        "waitlist",
        "join",
        "--user",
        BOB,
        "--venue",
        "main-hall",
        "--date",
        DAY,
        "--start",
        "10:00",
        "--end",
        "11:00",
    ).one["entry_id"]
    bookit.ok("tick", now=at("10:00"))
    early = bookit("check-in", first["booking_id"], "--user", BOB, now=at("10:01"))
    assert (early.code, early.one["code"]) == (1, "not_owner")
    bookit.ok("tick", now=at("10:15"))
    assert bookit.ok("show", first["booking_id"]).one["status"] == "no_show"
    [offer] = bookit.ok("waitlist", "mine", "--user", BOB, now=at("10:16")).objects
    assert offer["status"] == "offered" and offer["seconds_left"] == 14 * 60
    claimed = bookit.ok("waitlist", "claim", entry, "--user", BOB, now=at("10:18")).one
    assert bookit.ok("show", claimed["booking_id"]).one["status"] == "confirmed"
    box = mailbox.Maildir(bookit.home / "outbox", create=False)
    kinds = sorted(m["X-BookIT-Kind"] for m in box if m["To"] == ANN)
    assert kinds.count("check-in") == 1 and kinds.count("no-show") == 1

    # Two late cancellations: three strikes, suspended
    bookings = bookit.ok("bookings", "--user", ANN).objects
    late = [b["booking_id"] for b in bookings if b["status"] == "booked"]
    assert len(late) == 2
    bookit.ok("cancel", late[0], "--user", ANN, now=at("11:00"))
    bookit.ok("cancel", late[1], "--user", ANN, now=at("13:00"))
    strikes = bookit.ok("strikes", "--user", ANN, now=at("13:01")).objects
    assert [s["reason"] for s in strikes] == ["no_show", "late_cancel", "late_cancel"]
    assert strikes[0]["suspended_until"] == "2027-01-04T10:15:00Z"
    listed = bookit.ok("strikes", "--user", ANN, now=at("13:01"), as_json=False).out
    assert "no-show" in listed and "suspended at main-hall until 2027-01-04T10:15:00Z" in listed
    suspended = book(bookit, ANN, "10:00", "11:00", day="2026-12-07", now=at("13:05"))
    assert (suspended.code, suspended.one["code"]) == (1, "suspended")
    assert "2027-01-04" in suspended.one["error"]
    assert sum(m["X-BookIT-Kind"] == "suspended" for m in box if m["To"] == ANN) == 1

    # An admin waives one strike (the booking's history shows it), then clears the rest
    bookit.ok("strikes", "waive", late[0], "--by", ADMIN, now=at("13:10"))
    topics = [row["topic"] for row in bookit.ok("history", late[0]).objects]
    assert "strikes.waived" in topics
    stranger = bookit("strikes", "clear", "--user", ANN, "--by", BOB, now=at("13:11"))
    assert (stranger.code, stranger.one["code"]) == (1, "not_admin")
    cleared = bookit.ok("strikes", "clear", "--user", ANN, "--by", ADMIN, now=at("13:12")).one
    assert cleared == {"cleared": 2, "user": ANN, "venue_id": "main-hall"}
    again = book(bookit, ANN, "10:00", "11:00", day="2026-12-07", now=at("13:15"))
    assert again.code == 0, again.err
    assert bookit.ok("replay", "--verify", as_json=False).code == 0
