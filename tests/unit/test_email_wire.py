"""An email written straight to bytes (adapters/mail/wire.py) is exactly what the stdlib's
EmailMessage would write for it: a mail client cannot tell them apart.

The oracle is the stdlib itself: the same email, once its structure is built, flattened by the
stdlib's generator (same boundary), must give the same bytes as the direct write.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_email_compose import COMMON, EXTRA, MESSAGE_ID, SENT_AT

from bookit.adapters.calendar import BookingTime
from bookit.adapters.mail import compose as compose_module
from bookit.adapters.mail import compose_email, wire
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


# Header folding: the one-line fast path (`wire._as_is`) against the policy's own fold.

POLICY = compose_module._POLICY
NAMES = [
    "Subject",
    "To",
    "From",
    "Cc",
    "Reply-To",
    "Sender",
    "Date",
    "Resent-Date",
    "Message-ID",
    "X-BookIT-Kind",
    "X-BookIT-Booking",
    "X-BookIT-Entry",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Transfer-Encoding",
    "X-A-Header-Name-Long-Enough-To-Leave-Little-Room",
]
# Characters the header parsers treat specially, mixed with plain ones, so that hypothesis
# tries every edge of the fast path: quotes, comments, escapes, encoded words, odd spaces.
ASCII_WORDS = st.text(st.sampled_from(list("aZ09.@<>,;:\"()\\[]=?'_+-/ \t~é")), min_size=0, max_size=90)
ATOM = st.text(st.sampled_from(list("az09.-_+=?'")), min_size=1, max_size=12)
ADDRESSES = st.builds(lambda a, b: f"{a}@{b}", ATOM, ATOM)
DATES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.sampled_from([UTC, None])
).map(lambda moment: email.utils.format_datetime(moment))
VALUES = st.one_of(
    ASCII_WORDS,
    st.builds(lambda name, address: f"{name} <{address}>", ASCII_WORDS, ADDRESSES),
    st.from_regex(r"[!-~]{1,20}( [!-~]{1,20}){0,4}", fullmatch=True),
    ADDRESSES,
    ADDRESSES.map(lambda address: f"<{address}>"),
    DATES,
    DATES.map(lambda date: date.replace(" 0", " ")),  # "2 Dec" where the stdlib writes "02 Dec"
    st.text(max_size=40),
)


def _stdlib_fold(name: str, value: str) -> bytes:
    return POLICY.fold_binary(*POLICY.header_store_parse(name, value))


@settings(max_examples=1500, deadline=None)
@given(name=st.sampled_from(NAMES), value=VALUES)
def test_a_header_written_on_one_line_directly_is_what_the_policy_folds(name: str, value: str) -> None:
    try:
        expected = _stdlib_fold(name, value)
    except Exception:
        # A line break (refused), or text the stdlib's address parser trips over: the policy
        # cannot write it, so the fast path must not have written it either.
        assert wire._as_is(POLICY, name, value) is None
        return

    direct = wire._as_is(POLICY, name, value)

    assert direct is None or direct == expected
    assert wire._fold(POLICY, name, value) == expected


@settings(max_examples=500, deadline=None)
@given(display_name=st.one_of(ASCII_WORDS, st.text(max_size=40)), address=ADDRESSES)
def test_an_address_with_a_name_is_folded_as_the_policy_folds_it(display_name: str, address: str) -> None:
    try:
        value = Address(display_name=display_name, addr_spec=address)
        expected = POLICY.fold_binary(*POLICY.header_store_parse("To", value))
    except Exception:  # no address the stdlib can write: nothing to compare
        return

    assert wire._fold(POLICY, "To", value) == expected


@settings(max_examples=500, deadline=None)
@given(display_name=st.one_of(ASCII_WORDS, st.text(max_size=40)), address=ADDRESSES)
def test_a_named_address_given_as_text_is_the_address_the_stdlib_writes(
    display_name: str, address: str
) -> None:
    try:
        expected = Address(display_name=display_name, addr_spec=address)
    except Exception:  # not an address: the Address refuses it, and so does named_address
        with pytest.raises(Exception):  # noqa: B017
            wire.named_address(POLICY, "To", display_name, address)
        return

    value = wire.named_address(POLICY, "To", display_name, address)

    if isinstance(value, str):
        assert value == str(expected)
        header = POLICY.header_store_parse("To", value)[1]
        assert header.addresses == (expected,)  # a reader of the header sees the same address
        assert _stdlib_fold("To", value) == POLICY.fold_binary(*POLICY.header_store_parse("To", expected))
    else:
        assert value == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "Booking confirmed: Main Hall on Thursday 3 December 2026"),
        ("To", "bob.o'neil@example.org"),
        ("To", "Ann Smith <ann@example.com>"),
        ("Date", "Wed, 02 Dec 2026 12:00:05 +0000"),
        ("Message-ID", MESSAGE_ID),
        ("X-BookIT-Booking", "6e3b1c5a-8d1f-5b8e-9b0e-2c7a1d4f0e9a"),
    ],
)
def test_the_headers_every_email_varies_take_the_one_line_path(name: str, value: str) -> None:
    assert wire._as_is(POLICY, name, value) == _stdlib_fold(name, value) == f"{name}: {value}\n".encode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "=?utf-8?q?Caf=C3=A9?="),  # an encoded word: the parser decodes it
        ("Subject", "two  spaces"),
        ("To", '"Ann" <ann@example.com>'),
        ("Message-ID", "<a@b> trailing"),  # the parser drops what follows the id
        ("Date", "Wed, 2 Dec 2026 12:00:05 +0000"),  # written back as "02 Dec"
        ("Subject", "x" * 80),  # too long for one line
    ],
)
def test_what_the_stdlib_would_rewrite_goes_through_the_stdlib(name: str, value: str) -> None:
    assert wire._as_is(POLICY, name, value) is None
    assert wire._fold(POLICY, name, value) == _stdlib_fold(name, value)


@settings(max_examples=300, deadline=None)
@given(digits=st.integers(min_value=0, max_value=10**19 - 1))
def test_the_content_type_folds_the_same_whatever_the_boundary_digits(digits: int) -> None:
    boundary = "=" * 15 + f"{digits:019d}" + "=="
    value = f'multipart/alternative; boundary="{boundary}"'

    assert wire._content_type(POLICY, boundary) == _stdlib_fold("Content-Type", value)
