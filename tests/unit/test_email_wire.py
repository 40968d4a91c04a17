"""An email written straight to bytes (adapters/mail/wire.py) is exactly what the stdlib's
EmailMessage would write for it: a mail client cannot tell them apart.

The oracle is the stdlib itself: the same email, once its structure is built, flattened by the
stdlib's generator (same boundary), must give the same bytes as the direct write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_email_compose import COMMON, EXTRA, MESSAGE_ID, SENT_AT

from bookit.adapters.calendar import BookingTime
from bookit.adapters.mail import compose_email
from bookit.adapters.mail.compose import KINDS
from bookit.adapters.mail.wire import ComposedEmail


def _compose(kind: str, **overrides: Any) -> EmailMessage:
    context = COMMON | EXTRA[kind] | overrides.pop("context", {})
    return compose_email(
        kind,
        to=overrides.pop("to", "alice@example.com"),
        message_id=MESSAGE_ID,
        sent_at=overrides.pop("sent_at", SENT_AT),
        subject_id=overrides.pop("subject_id", "bk-1"),
        context=context,
        **overrides,
    )


def _stdlib_bytes(message: EmailMessage) -> bytes:
    """What the stdlib writes for this message: its structure built, then flattened."""
    message.keys()  # builds the structure (a ComposedEmail's first use)
    return message.as_bytes(policy=default_policy)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_written_byte_for_byte_as_the_stdlib_writes_it(kind: str) -> None:
    message = _compose(kind)
    assert isinstance(message, ComposedEmail)  # the direct write applies to all our emails

    direct = message.as_bytes(policy=default_policy)

    assert direct == _stdlib_bytes(message)
    assert bytes(direct) == message.as_bytes()  # the same bytes after it was built


def test_headers_are_read_without_building_the_message_and_agree_with_it() -> None:
    message = _compose("reminder")
    read = {name: message[name] for name in ("From", "To", "Subject", "Message-ID", "X-BookIT-Kind")}
    assert "_lazy" in vars(message)  # nothing built yet: the Maildir needs only these
    assert message["Bcc"] is None

    message.keys()
    assert {name: message[name] for name in read} == read
    assert read["Message-ID"] == MESSAGE_ID


def test_a_mail_client_reads_the_direct_bytes_like_the_stdlib_s() -> None:
    message = _compose("waitlist-offer", subject_id="wl-7")
    parsed = BytesParser(EmailMessage, policy=default_policy).parsebytes(message.as_bytes())

    assert parsed["X-BookIT-Entry"] == "wl-7"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "https://bookit.local/waitlist/wl-7/claim?t=xyz" in text.get_content()
    assert "claim?t=xyz" in html.get_content()


text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(venue=text, purpose=text, user=st.sampled_from(["a@example.com", "bob.o'neil@example.org"]))
def test_any_venue_name_or_purpose_gives_the_stdlib_s_bytes(venue: str, purpose: str, user: str) -> None:
    """Long subjects fold, non-ASCII text is encoded, odd characters are escaped: whichever way
    the stdlib does it, the bytes are the same (or the email is built the stdlib way)."""
    message = _compose("booking-confirmed", to=user, context={"venue_name": venue, "purpose": purpose})

    assert message.as_bytes(policy=default_policy) == _stdlib_bytes(message)


def test_non_ascii_names_and_text_are_written_directly_and_exactly() -> None:
    message = _compose(
        "booking-confirmed", context={"venue_name": "Salle Zoë", "purpose": "Répétition 🎶 " * 12}
    )
    assert isinstance(message, ComposedEmail)

    direct = message.as_bytes()

    assert b"=?utf-8?" in direct.split(b"\n\n", 1)[0]  # the Subject is encoded (RFC 2047)
    assert direct == _stdlib_bytes(message)


@pytest.mark.parametrize("cancelled", [False, True])
def test_an_email_with_a_display_name_and_a_calendar_part_is_written_exactly(cancelled: bool) -> None:
    booking = BookingTime(
        booking_id="bk-1",
        sequence=3,
        stamp=SENT_AT,
        starts_at=datetime(2026, 12, 3, 14, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 3, 16, 0, tzinfo=UTC),
        tz="Europe/London",
        venue_name="Main Hall",
        attendee="alice@example.com",
        attendee_name="Alice O'Neil, Choir",
        purpose="Choir practice",
        cancelled=cancelled,
    )
    message = _compose("booking-confirmed", to_name="Alice O'Neil, Choir", calendar=booking)
    assert isinstance(message, ComposedEmail)

    direct = message.as_bytes()

    assert b"Content-Type: text/calendar" in direct
    assert direct == _stdlib_bytes(message)
    calendar_part = message.get_body(("calendar",))
    assert calendar_part is not None and calendar_part.get_param("method") in ("REQUEST", "CANCEL")


def test_a_long_subject_folds_as_the_stdlib_folds_it() -> None:
    message = _compose("booking-confirmed", context={"venue_name": "The Grand Assembly Hall " * 4})
    direct = message.as_bytes()

    assert b"\n " in direct.split(b"\n\n", 1)[0]  # the Subject did fold
    assert direct == _stdlib_bytes(message)
