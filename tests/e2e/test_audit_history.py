"""`bookit history`, `show --as-of` and `explain` through the real executable (issue 11).

Two stories: the seed guide's "Test 3" (an auto-cancelled booking, an offer that runs out, a
claim), and a longer one where two offers run out and one is declined before the fourth in line
claims. `show` is recorded at every step as the story runs; afterwards `show --as-of` each of
those instants must say exactly what `show` said then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bookit import audit
from bookit.aggregates.waitlist import WaitlistSlot
from bookit.bootstrap import bootstrap
from bookit.localtime import parse_instant

from .test_cli import Bookit
from .test_waitlist_story import inbox

A, B, C, D, E = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dan", "erin"))
SLOT = ["--venue", "main-hall", "--date", "2026-12-05", "--start", "10:00", "--end", "12:00"]
SLOT_ID = str(WaitlistSlot.id_for("main-hall", "2026-12-05", "10:00", "12:00"))


class Story:
    """Runs the CLI at given instants and records what `show` says of everything known so far."""

    def __init__(self, home: Path, record: bool = True) -> None:
        self.cli = Bookit(home)
        self.recording = record
        self.ids: list[str] = []
        self.said: list[tuple[str, str, dict[str, Any]]] = []  # (instant, id, show's answer)

    def at(self, instant: str, *args: str) -> dict[str, Any]:
        run = self.cli.ok(*args, now=instant)
        self.record(instant)
        return run.one if run.out.strip() else {}

    def record(self, instant: str) -> None:
        """What `show` says now of each id: the function `bookit show` prints, on a service opened
        as the executable opens one (a process each would cost the suite two minutes; the
        executable's own `show` is held to this by `test_the_executables_show_says_what_was_recorded`)."""
        if not (self.recording and self.ids):
            return
        service = bootstrap(self.cli.home, clock=lambda: parse_instant(instant))
        try:
            for ident in self.ids:
                shown = audit.show_now(service, ident, parse_instant(instant))
                self.said.append((instant, ident, json.loads(json.dumps(shown, sort_keys=True, default=str))))
        finally:
            service.close()


def seed_test3(home: Path, record: bool = True) -> tuple[Story, dict[str, str]]:
    story = Story(home, record)
    story.at("2026-12-01T09:00:00Z", "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")
    booking = story.at("2026-12-01T09:00:00Z", "book", "--user", A, *SLOT)["booking_id"]
    story.ids.append(booking)
    b = story.at("2026-12-01T09:05:00Z", "waitlist", "join", "--user", B, *SLOT)["entry_id"]
    story.ids.append(b)
    c = story.at("2026-12-01T09:06:00Z", "waitlist", "join", "--user", C, *SLOT)["entry_id"]
    story.ids.append(c)
    story.at("2026-12-04T10:00:00Z", "tick")  # A reminded
    story.at("2026-12-05T08:00:00Z", "tick")  # A auto-cancelled, B offered until 08:15
    story.record("2026-12-05T08:10:00Z")  # B: 300 s left
    story.at("2026-12-05T08:15:00Z", "tick")  # B's offer runs out, C offered until 08:30
    claimed = story.at("2026-12-05T08:20:00Z", "waitlist", "claim", c, "--user", C)["booking_id"]
    story.ids.append(claimed)
    story.record("2026-12-05T08:21:00Z")
    return story, {"booking": booking, "b": b, "c": c, "claimed": claimed}


@pytest.fixture(scope="module")
def seed_story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Story, dict[str, str]]:
    return seed_test3(tmp_path_factory.mktemp("test3") / "home")


def texts(run: Any) -> list[str]:
    return [step["text"] for step in run.objects]


def test_history_of_a_booking_is_every_event_of_it_in_order(seed_story: Any) -> None:
    story, ids = seed_story
    steps = story.cli.ok("history", ids["booking"]).objects
    assert [s["topic"] for s in steps] == [
        "booking.booked",
        "venue_day.interval_taken",
        "booking.reminded",
        "booking.reminder_delivered",
        "booking.auto_cancelled",
        "venue_day.interval_released",
    ]
    assert "emails" not in steps[0]


def test_history_of_an_entry_tells_its_journey(seed_story: Any) -> None:
    story, ids = seed_story
    b = texts(story.cli.ok("history", ids["b"]))
    assert (
        f"{B} joined the queue for main-hall 2026-12-05 10:00-12:00 at position 1 (priority 0, join #1)" in b
    )
    assert f"{B} was offered the slot until 2026-12-05T08:15:00Z (was position 1)" in b
    assert f"{B}'s offer ran out at 2026-12-05T08:15:00Z, unclaimed: passed on" in b
    c = texts(story.cli.ok("history", ids["c"]))
    joined = c.index(
        f"{C} joined the queue for main-hall 2026-12-05 10:00-12:00 at position 2 (priority 0, join #2)"
    )
    offered = c.index(f"{C} was offered the slot until 2026-12-05T08:30:00Z (was position 1)")
    claimed = c.index(f"{C} claimed the offer: it became booking {ids['claimed']}")
    became = c.index(f"booking {ids['claimed']} made for {C}, confirmed by the claim")
    assert joined < offered < claimed < became


def test_history_of_a_slot_shows_the_whole_queue_over_time(seed_story: Any) -> None:
    story, _ = seed_story
    human = story.cli.ok("history", SLOT_ID, as_json=False).out.splitlines()
    queues = [line.rsplit("\t| ", 1)[1] for line in human]
    assert queues == [
        "nobody in line",
        f"waiting: {B} (priority 0, #1)",
        f"waiting: {B} (priority 0, #1), {C} (priority 0, #2)",
        f"offered: {B} until 2026-12-05T08:15:00Z; waiting: {C} (priority 0, #2)",
        f"waiting: {C} (priority 0, #2)",
        f"offered: {C} until 2026-12-05T08:30:00Z",
        "nobody in line",
    ]


def test_history_with_emails_names_every_email_as_the_mailbox_has_it(seed_story: Any) -> None:
    story, ids = seed_story
    mailbox = {m["Message-ID"]: (m["X-BookIT-Kind"], m["To"]) for m in inbox(story.cli.home)}
    woven: dict[str, tuple[str, str]] = {}
    for ident in (ids["booking"], ids["b"], ids["c"], SLOT_ID):
        for step in story.cli.ok("history", ident, "--emails").objects:
            for email in step["emails"]:
                assert email["outcome"] == "delivered" and email["at"] == step["at"]
                woven[email["message_id"]] = (email["kind"], email["recipient"])
    assert woven == mailbox  # all seven, each with its kind and recipient
    kinds_of_c = [
        (step["topic"], e["kind"])
        for step in story.cli.ok("history", ids["c"], "--emails").objects
        for e in step["emails"]
    ]
    assert kinds_of_c == [("waitlist.notified", "waitlist-offer"), ("waitlist.claimed", "waitlist-claimed")]
    human = story.cli.ok("history", ids["booking"], "--emails", as_json=False).out
    assert f"\temail reminder to {A} <" in human


def as_of_says_what_show_said(story: Story) -> None:
    """`show --as-of` each recorded instant says what `show` said then: every answer from the
    event store in one process (a process each would cost the suite a minute), and each id's
    last through the executable."""
    service = bootstrap(story.cli.home)
    try:
        for instant, ident, said in story.said:
            assert audit.as_of(service.app, ident, parse_instant(instant)) == said, (instant, ident)
    finally:
        service.close()
    last = {ident: (instant, said) for instant, ident, said in story.said}
    for ident, (instant, said) in last.items():
        assert story.cli.ok("show", ident, "--as-of", instant).one == said, (instant, ident)


def test_as_of_every_step_says_what_show_said_then(seed_story: Any) -> None:
    story, _ = seed_story
    assert len(story.said) > 20
    as_of_says_what_show_said(story)


def test_the_executables_show_says_what_was_recorded(seed_story: Any) -> None:
    """The story records `show` in one process; the executable says the same of each id at the
    story's end (`show` reads the read models as they are now, so only the last answer can be
    asked again)."""
    story, _ = seed_story
    last = {ident: (instant, said) for instant, ident, said in story.said}
    assert len(last) == 4
    for ident, (instant, said) in last.items():
        assert story.cli.ok("show", ident, now=instant).one == said, (instant, ident)


def test_as_of_an_open_offer_counts_the_seconds_left(seed_story: Any) -> None:
    story, ids = seed_story
    then = story.cli.ok("show", ids["b"], "--as-of", "2026-12-05T08:10:00Z").one
    assert (then["status"], then["position"], then["seconds_left"]) == ("offered", 0, 300)
    later = story.cli.ok("show", ids["b"], "--as-of", "2026-12-05T08:16:00Z").one
    assert (later["status"], later["position"]) == ("expired", None) and "seconds_left" not in later
    reminded = story.cli.ok("show", ids["booking"], "--as-of", "2026-12-04T10:00:00+00:00").one
    assert (reminded["status"], reminded["confirmed"], reminded["reminded"]) == ("booked", False, True)


def test_bad_ids_and_instants_are_bad_input(seed_story: Any) -> None:
    story, ids = seed_story
    cases = {
        ("show", ids["b"], "--as-of", "2026-12-01T09:04:59Z"): "did not exist yet",
        ("show", ids["b"], "--as-of", "yesterday"): "not an instant",
        ("show", ids["b"], "--as-of", "2026-12-05T08:10:00"): "not an instant",
        ("show", SLOT_ID): "is a waitlist slot, not a booking or waitlist entry",
        ("show", "not-an-id"): "is not an id",
        ("history", "00000000-0000-0000-0000-000000000000"): "unknown booking, waitlist entry or",
        ("explain", ids["booking"]): "is a booking, not a waitlist entry",
    }
    events = story.cli.stored_events()
    for args, message in cases.items():
        run = story.cli(*args, as_json=False)
        assert run.code == 2 and message in run.err, (args, run.err)
    assert story.cli.stored_events() == events


def test_explain_says_who_was_ahead_at_each_offer(seed_story: Any) -> None:
    story, ids = seed_story
    told = story.cli.ok("explain", ids["c"]).one
    assert told["joined"]["position"] == 2
    first, second = told["offers"]
    assert (first["offered"]["user"], first["you"]) == (B, False)
    assert first["offered"]["why"] == "same priority, joined before you (#1 before your #2)"
    assert second["you"] and second["dropped_out"] == [
        {"entry_id": ids["b"], "user": B, "priority": 0, "seq": 1, "how": "expired"}
    ]
    assert told["status"] == "claimed"


def test_two_expiries_and_a_decline_then_a_claim(tmp_path: Path) -> None:
    story = Story(tmp_path / "home")
    story.at("2026-12-01T09:00:00Z", "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")
    story.at("2026-12-01T09:00:00Z", "admin", "add", "desk@example.com")
    booking = story.at("2026-12-01T09:00:00Z", "book", "--user", A, *SLOT)["booking_id"]
    story.ids.append(booking)
    entries = {}
    for n, who in enumerate((B, C, D), start=1):
        entries[who] = story.at(f"2026-12-01T09:0{n}:00Z", "waitlist", "join", "--user", who, *SLOT)[
            "entry_id"
        ]
        story.ids.append(entries[who])
    # Erin joins last, but the desk puts her ahead of Dan (lower number first).
    entries[E] = story.at(
        "2026-12-01T09:04:00Z",
        "waitlist",
        "join",
        "--user",
        "desk@example.com",
        "--for",
        E,
        "--priority",
        "-1",
        *SLOT,
    )["entry_id"]
    story.ids.append(entries[E])
    story.at("2026-12-03T12:00:00Z", "cancel", booking, "--user", A)  # Erin offered until 12:15
    story.record("2026-12-03T12:14:59Z")
    story.at("2026-12-03T12:15:00Z", "tick")  # Erin's offer runs out; Bob offered until 12:30
    story.at("2026-12-03T12:31:00Z", "tick")  # Bob's runs out; Carol offered until 12:46
    story.at("2026-12-03T12:40:00Z", "waitlist", "decline", entries[C], "--user", C)  # Dan offered
    dans = story.at("2026-12-03T12:45:00Z", "waitlist", "claim", entries[D], "--user", D)["booking_id"]
    story.ids.append(dans)
    story.record("2026-12-03T12:46:00Z")

    as_of_says_what_show_said(story)

    dan = story.cli.ok("explain", entries[D]).one
    assert [(o["offered"]["user"], o["offered"]["why"]) for o in dan["offers"]] == [
        (E, "priority -1 goes before your 0"),
        (B, "same priority, joined before you (#1 before your #3)"),
        (C, "same priority, joined before you (#2 before your #3)"),
        (D, "you were first in line"),
    ]
    assert [[p["how"] for p in o["dropped_out"]] for o in dan["offers"]] == [
        [],
        ["expired"],
        ["expired"],
        ["declined"],
    ]
    assert [[p["user"] for p in o["still_ahead"]] for o in dan["offers"]] == [[B, C], [C], [], []]

    carol = texts(story.cli.ok("history", entries[C]))
    assert f"{C} declined the offer: passed on" in carol
    human = story.cli.ok("history", SLOT_ID, "--emails", as_json=False).out
    for kind in ("waitlist-offer", "waitlist-expired", "waitlist-claimed"):
        assert f"\temail {kind} to " in human
    assert human.count("\temail waitlist-offer to ") == 4
    assert human.count("\temail waitlist-expired to ") == 2


def test_an_entry_still_in_line_when_the_slot_starts_is_told_the_queue_closed(tmp_path: Path) -> None:
    story = Story(tmp_path / "home")
    story.at("2026-12-01T09:00:00Z", "venue", "add", "--name", "Main Hall", "--tz", "Europe/London")
    booking = story.at("2026-12-01T09:00:00Z", "book", "--user", A, *SLOT)["booking_id"]
    story.at("2026-12-01T09:30:00Z", "confirm", booking, "--user", A)
    entry = story.at("2026-12-01T09:40:00Z", "waitlist", "join", "--user", B, *SLOT)["entry_id"]
    story.ids.append(entry)
    story.at("2026-12-05T10:00:00Z", "tick")  # the slot starts: its queue closes

    steps = story.cli.ok("history", entry, "--emails").objects
    assert [s["text"] for s in steps][-1] == (
        "the slot started while this entry was still in the queue: the queue closed"
    )
    assert [e["kind"] for e in steps[-1]["emails"]] == ["waitlist-closed"]
    assert story.cli.ok("explain", entry).one["offers"] == []
    as_of_says_what_show_said(story)
    assert story.said[-1][2]["status"] == "closed"
