"""The seed guide's "Test 3", told through the real `bookit` executable: an unconfirmed booking
is auto-cancelled, the first in line lets the offer run out, the next one claims it. Every
email a person gets is read back from the Maildir the way a mail client would."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from bookit.links import LinkSigner

from .test_cli import Bookit

A, B, C = "alice@example.com", "bob@example.com", "carol@example.com"
SLOT = ["--venue", "main-hall", "--date", "2026-12-05", "--start", "10:00", "--end", "12:00"]


def _parse(file: Any) -> EmailMessage:
    message = BytesParser(EmailMessage, policy=default_policy).parse(file)
    assert isinstance(message, EmailMessage)
    return message


def inbox(home: Path) -> list[EmailMessage]:
    return list(mailbox.Maildir(home / "outbox", factory=_parse, create=False))


def received(home: Path, who: str) -> list[str]:
    """Kinds of email `who` got, in the order they were sent."""
    return [
        m["X-BookIT-Kind"] for m in sorted(inbox(home), key=lambda m: m["Date"].datetime) if m["To"] == who
    ]


def only(home: Path, kind: str, to: str) -> EmailMessage:
    [message] = [m for m in inbox(home) if m["X-BookIT-Kind"] == kind and m["To"] == to]
    return message


def claim_link(home: Path, offer: EmailMessage, at: str) -> Any:
    body = offer.get_body(("plain",))
    assert body is not None
    match = re.search(r"https?://\S+/l/(\S+)", str(body.get_content()))
    assert match, "the offer has no Claim link"
    signer = LinkSigner((home / "link-secret").read_text().strip().encode(), "http://unused")
    return signer.read(match.group(1), datetime.fromisoformat(at))


def test_unconfirmed_booking_goes_to_the_waitlist_and_the_second_in_line_claims_it(tmp_path: Path) -> None:
    bookit = Bookit(tmp_path / "home", now="2026-12-01T09:00:00Z")
    home = bookit.home
    bookit.ok("venue", "add", "--name", "Main Hall", "--tz", "Europe/London")

    # A books; the slot is full, so B and C join its waitlist, in that order.
    booking = bookit.ok("book", "--user", A, *SLOT, "--purpose", "Choir").one["booking_id"]
    b_entry = bookit.ok("waitlist", "join", "--user", B, *SLOT).one
    c_entry = bookit.ok("waitlist", "join", "--user", C, *SLOT).one
    assert (b_entry["position"], c_entry["position"]) == (1, 2)

    # 24 h before: A is reminded, and does not answer.
    bookit.ok("tick", now="2026-12-04T10:00:00Z")
    reminder = only(home, "reminder", A)
    assert reminder["X-BookIT-Booking"] == booking
    assert bookit.ok("show", booking).one["reminded"] is True

    # 2 h before: A is auto-cancelled and told; B is offered the slot for 15 minutes.
    bookit.ok("tick", now="2026-12-05T08:00:00Z")
    assert bookit.ok("show", booking).one["status"] == "auto_cancelled"
    assert only(home, "auto-cancelled", A)["X-BookIT-Booking"] == booking
    offer_b = only(home, "waitlist-offer", B)
    assert offer_b["X-BookIT-Entry"] == b_entry["entry_id"]
    link = claim_link(home, offer_b, "2026-12-05T08:00:00+00:00")
    assert (link.action, link.subject_id) == ("claim", b_entry["entry_id"])
    assert link.expires_at == datetime(2026, 12, 5, 8, 15, tzinfo=UTC)
    assert received(home, C) == []

    # B lets it run out; after the deadline B can no longer claim, and the offer moves to C.
    bookit.ok("tick", now="2026-12-05T08:15:00Z")
    assert only(home, "waitlist-expired", B)["X-BookIT-Entry"] == b_entry["entry_id"]
    late = bookit("waitlist", "claim", b_entry["entry_id"], "--user", B, now="2026-12-05T08:16:00Z")
    assert late.code == 1 and late.one["code"] == "no_offer"
    assert only(home, "waitlist-offer", C)["X-BookIT-Entry"] == c_entry["entry_id"]
    [mine] = bookit.ok("waitlist", "mine", "--user", C, now="2026-12-05T08:20:00Z").objects
    assert (mine["status"], mine["seconds_left"]) == ("offered", 600)

    # C claims within the window: the slot is C's, confirmed, and C gets the receipt.
    claimed = bookit.ok("waitlist", "claim", c_entry["entry_id"], "--user", C, now="2026-12-05T08:20:00Z")
    c_booking = claimed.one["booking_id"]
    notice = only(home, "waitlist-claimed", C)
    assert notice["X-BookIT-Booking"] == c_booking
    assert notice["X-BookIT-Entry"] == c_entry["entry_id"]

    final = {(r["user"], r["status"], r["confirmed"]) for r in bookit.ok("bookings").objects}
    assert final == {(A, "auto_cancelled", False), (C, "confirmed", True)}
    assert received(home, A) == ["booking-confirmed", "reminder", "auto-cancelled"]
    assert received(home, B) == ["waitlist-offer", "waitlist-expired"]
    assert received(home, C) == ["waitlist-offer", "waitlist-claimed"]
    message_ids = [m["Message-ID"] for m in inbox(home)]
    assert len(message_ids) == len(set(message_ids)) == 7
    assert bookit.ok("replay", "--verify").one["verified"] is True
