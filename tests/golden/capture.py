"""How the golden fixtures and the old stores under tests/golden/ were made (DESIGN rule 20).

Run once, with the code of the release being captured, never again over the same files:

    python tests/golden/capture.py OUT [--store postgresql://...]

It plays a story that stores every event type BookIT has (and a snapshot of every aggregate
that is snapshotted) through the real application on a given clock, then copies each event
type's first stored event, and each snapshot, byte for byte from the recorder's tables, with
the events of its aggregate before it (so a test can apply it to the aggregate it belongs to).
A new release's new shapes are captured into a new directory beside the old ones; the old ones
stay as they are, because stored events stay as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bookit import commands as c
from bookit.bootstrap import Service, bootstrap
from bookit.config import Rules
from bookit.testing.clock import FakeClock

ADMIN = "admin@example.com"
ANN, BOB, CY, DAN = "ann@example.com", "bob@example.com", "cy@example.com", "dan@example.com"
CARL, EVE, FAY, GUS = "carl@example.com", "eve@example.com", "fay@example.com", "gus@example.com"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Story:
    def __init__(self, service: Service, clock: FakeClock) -> None:
        self.service, self.clock = service, clock
        self.ids: dict[str, str] = {}

    def at(self, text: str) -> None:
        self.clock.set(datetime.fromisoformat(text))

    def run(self, command: type[c.Command], **fields: Any) -> Any:
        return self.service.bus.handle(command(**fields))

    def tick(self, when: str) -> None:
        self.at(when)
        self.run(c.Tick, now=self.clock.now)

    def book(self, user: str, venue: str, day: str, start: str, end: str) -> str:
        slot = {"venue_id": venue, "date": day, "start": start, "end": end}
        return str(self.run(c.BookVenue, actor=user, purpose="Choir", name="A. Person", **slot)["booking_id"])

    def join(self, user: str, venue: str, day: str, start: str, end: str) -> str:
        slot = {"venue_id": venue, "date": day, "start": start, "end": end}
        return str(self.run(c.JoinWaitlist, actor=user, name="W. Aiter", **slot)["entry_id"])


def play(story: Story) -> dict[str, str]:
    s, ids = story, story.ids
    s.run(c.RegisterVenue, actor="system", name="Main Hall", tz="Europe/London")
    s.run(c.RegisterVenue, actor="system", name="Court", tz="Europe/London")
    s.run(c.GrantAdmin, actor="system", email=ADMIN)
    s.run(
        c.SetVenueRules,
        actor=ADMIN,
        venue_id="main-hall",
        check_in_minutes=15,
        late_cancel_minutes=120,
        no_show_strikes=3,
        strike_days=30,
        quota_bookings=["5/day"],
    )
    # Reminded, delivered, auto-cancelled; the queue: joined, left, notified, declined, expired
    ids["auto_cancelled"] = s.book(ANN, "main-hall", "2026-12-03", "14:00", "16:00")
    ids["bob_entry"] = s.join(BOB, "main-hall", "2026-12-03", "14:00", "16:00")
    ids["cy_entry"] = s.join(CY, "main-hall", "2026-12-03", "14:00", "16:00")
    dan = s.join(DAN, "main-hall", "2026-12-03", "14:00", "16:00")
    s.run(c.LeaveWaitlist, actor=DAN, entry_id=dan)
    s.tick("2026-12-02T14:00:00+00:00")
    s.tick("2026-12-03T12:00:00+00:00")
    s.run(c.DeclineOffer, actor=BOB, entry_id=ids["bob_entry"])
    s.tick("2026-12-03T12:15:00+00:00")
    # Waived, confirmed, checked in; a no-show and two late cancellations: strikes, suspended
    ids["checked_in"] = s.book(ANN, "main-hall", "2026-12-04", "10:00", "11:00")
    s.run(c.GrantAdmin, actor=ADMIN, email="desk@example.com")
    s.run(c.WaiveAutoCancel, actor=ADMIN, booking_id=ids["checked_in"])
    s.run(c.ConfirmBooking, actor=ANN, booking_id=ids["checked_in"])
    ids["skipped"] = s.book(ANN, "main-hall", "2026-12-08", "10:00", "11:00")
    ids["no_show"] = s.book(BOB, "main-hall", "2026-12-04", "12:00", "13:00")
    s.run(c.ConfirmBooking, actor=BOB, booking_id=ids["no_show"])
    ids["late_1"] = s.book(BOB, "main-hall", "2026-12-04", "15:00", "16:00")
    ids["late_2"] = s.book(BOB, "main-hall", "2026-12-04", "17:00", "18:00")
    s.tick("2026-12-04T10:00:00+00:00")
    s.at("2026-12-04T10:05:00+00:00")
    s.run(c.CheckIn, actor=ANN, booking_id=ids["checked_in"])
    s.tick("2026-12-04T12:00:00+00:00")
    s.tick("2026-12-04T12:15:00+00:00")
    s.at("2026-12-04T14:00:00+00:00")
    s.run(c.CancelBooking, actor=BOB, booking_id=ids["late_1"], reason="ill")
    s.at("2026-12-04T16:00:00+00:00")
    s.run(c.CancelBooking, actor=BOB, booking_id=ids["late_2"], reason="ill")
    s.run(c.WaiveStrike, actor=ADMIN, booking_id=ids["late_1"])
    s.run(c.ClearStrikes, actor=ADMIN, user=BOB, venue_id="main-hall")
    # Quiet hours and batch offers: a delayed window opens, one claims, the other is told
    s.run(c.SetVenueRules, actor=ADMIN, venue_id="court", quiet_hours="22:00-08:00", offer_mode="batch:2")
    ids["court_cancelled"] = s.book(CARL, "court", "2026-12-05", "10:00", "11:00")
    ids["eve_entry"] = s.join(EVE, "court", "2026-12-05", "10:00", "11:00")
    s.join(FAY, "court", "2026-12-05", "10:00", "11:00")
    s.at("2026-12-04T23:00:00+00:00")
    s.run(c.CancelBooking, actor=CARL, booking_id=ids["court_cancelled"], reason="")
    s.tick("2026-12-05T08:00:00+00:00")
    s.at("2026-12-05T08:05:00+00:00")
    ids["claimed"] = str(s.run(c.ClaimOffer, actor=EVE, entry_id=ids["eve_entry"])["booking_id"])
    # A queue still waiting when its slot starts is closed
    ids["closed_slot_booking"] = s.book(CARL, "court", "2026-12-05", "12:00", "13:00")
    s.join(GUS, "court", "2026-12-05", "12:00", "13:00")
    s.tick("2026-12-05T12:00:00+00:00")
    # Long-lived aggregates, to be snapshotted: a busy venue-day, a long queue, many admins
    for n in range(26):
        user = f"user{n:02d}@example.com"
        begin, end = 8 * 60 + 15 * n, 8 * 60 + 15 * n + 15
        booking = s.book(
            user,
            "court",
            "2026-12-20",
            f"{begin // 60:02d}:{begin % 60:02d}",
            f"{end // 60:02d}:{end % 60:02d}",
        )
        s.run(c.CancelBooking, actor=user, booking_id=booking, reason="")
    s.book(CARL, "court", "2026-12-21", "10:00", "11:00")
    for n in range(26):
        user = f"queue{n:02d}@example.com"
        entry = s.join(user, "court", "2026-12-21", "10:00", "11:00")
        s.run(c.LeaveWaitlist, actor=user, entry_id=entry)
    for n in range(50):
        s.run(c.GrantAdmin, actor=ADMIN, email=f"admin{n:02d}@example.com")
    # Reminded and due for auto-cancellation in the same tick: no fair chance, skipped
    s.tick("2026-12-08T08:00:00+00:00")
    return ids


def copy_rows(events_file: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(events, snapshots) as the recorder stored them: (originator_id, version, topic, state),
    events in the order of the notification log (SQLite's rowid)."""
    with sqlite3.connect(events_file) as db:
        events = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        ).fetchall()
        snapshots = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_snapshots "
            "ORDER BY originator_id, originator_version"
        ).fetchall()
    return events, snapshots


def stored(row: tuple[Any, ...]) -> dict[str, Any]:
    """One stored row; the state is UTF-8 JSON text, kept as text to be read, compared as bytes."""
    return {
        "originator_id": str(row[0]),
        "originator_version": row[1],
        "topic": row[2],
        "state": bytes(row[3]).decode("utf-8"),
    }


def write_fixtures(events_file: Path, out: Path) -> None:
    events, snapshots = copy_rows(events_file)
    chains: dict[str, list[tuple[Any, ...]]] = {}
    seen: set[str] = set()  # TOPIC.vN of each shape written
    (out / "events").mkdir(parents=True)
    (out / "snapshots").mkdir(parents=True)
    for row in events:
        chain = chains.setdefault(str(row[0]), [])
        chain.append(row)
        # Named by the shape it was stored in: the class_version the mapper wrote (1 when absent).
        shape = f"{row[2]}.v{json.loads(bytes(row[3])).get('class_version', 1)}"
        if shape in seen:
            continue
        seen.add(shape)
        fixture = {"event": stored(row), "before": [stored(r) for r in chain[:-1]]}
        (out / "events" / f"{shape}.json").write_text(json.dumps(fixture, indent=1) + "\n")
    taken: set[str] = set()
    for row in snapshots:
        state = json.loads(bytes(row[3]))
        aggregate = state["topic"]
        if aggregate in taken:
            continue
        taken.add(aggregate)
        chain = [r for r in chains[str(row[0])] if r[1] <= row[1]]
        fixture = {"snapshot": stored(row), "events": [stored(r) for r in chain]}
        (out / "snapshots" / f"{aggregate}.v1.json").write_text(json.dumps(fixture, indent=1) + "\n")


READS = [
    ("venue", "list"),
    ("bookings", "--venue", "main-hall"),
    ("bookings", "--venue", "court"),
    ("strikes", "--user", BOB),
    ("waitlist", "mine", "--user", FAY),
]


def record_reads(home: Path, store: str, ids: dict[str, str], out: Path) -> None:
    """What today's `bookit` prints for a few reads of the story, for the upgrade test."""
    reads: list[list[str]] = [list(args) for args in READS]
    reads += [["history", ids[key]] for key in ("auto_cancelled", "no_show", "claimed", "skipped")]
    reads += [["show", ids["checked_in"]], ["explain", ids["cy_entry"]]]
    bookit = str(Path(sys.executable).with_name("bookit"))
    answers = []
    for args in reads:
        command = [
            bookit,
            "--home",
            str(home),
            "--store",
            store,
            "--now",
            "2026-12-08T09:00Z",
            "--json",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        answers.append({"args": args, "stdout": done.stdout})
    (out / "reads.json").write_text(json.dumps({"ids": ids, "reads": answers}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--store", default="sqlite")
    args = parser.parse_args()
    home = args.out / "home"
    os.environ["BOOKIT_SECRET"] = "golden-fixture-link-secret"
    clock = FakeClock(START)
    service = bootstrap(home, store=args.store, clock=clock, rules=Rules())
    try:
        ids = play(Story(service, clock))
    finally:
        service.close()
    if args.store == "sqlite":
        write_fixtures(home / "events.sqlite", args.out)
    record_reads(home, args.store, ids, args.out)


if __name__ == "__main__":
    main()
