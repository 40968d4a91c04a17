"""What a recipient (and a mail filter reading our headers) sees in each kind of email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from html.parser import HTMLParser
from typing import Any

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookit.adapters.mail import compose_email
from bookit.adapters.mail.compose import KINDS

SENT_AT = datetime(2026, 12, 2, 12, 0, 5, tzinfo=UTC)
MESSAGE_ID = "<3f2a9c1e0b7d4e21@bookit>"

COMMON: dict[str, object] = {
    "name": "Alice",
    "venue_name": "Main Hall",
    "date": "Thursday 3 December 2026",
    "start": "14:00",
    "end": "16:00",
    "tz": "Europe/London",
}
EXTRA: dict[str, dict[str, object]] = {
    "booking-confirmed": {
        "purpose": "Choir practice",
        "booking_id": "bk-1",
        "confirmed": False,
        "tentative": True,
        "reminder_note": "Nothing to do now: on Wednesday 2 December we will ask you to confirm it,"
        " by 12:00 on Thursday 3 December.",
    },
    "confirmation-received": {"purpose": "Choir practice", "booking_id": "bk-1", "confirmed": True},
    "confirmation-waived": {"purpose": "Choir practice", "booking_id": "bk-1", "confirmed": False},
    "reminder": {
        "purpose": "Choir practice",
        "booking_id": "bk-1",
        "confirm_url": "https://bookit.local/bookings/bk-1/confirm?t=abc&u=1",
        "cancel_url": "https://bookit.local/bookings/bk-1/cancel?t=abc",
        "confirmed": False,
        "confirm_by": "12:00 on Thursday 3 December",
    },
    "auto-cancelled": {
        "booking_id": "bk-1",
        "reason": "it was not confirmed in time",
        "book_url": "https://bookit.local/venues/v-1",
    },
    "waitlist-offer": {
        "entry_id": "wl-7",
        "claim_url": "https://bookit.local/waitlist/wl-7/claim?t=xyz",
        "decline_url": "https://bookit.local/waitlist/wl-7/decline?t=xyz",
        "deadline": "12:15 on Thursday 3 December",
        "minutes": 15,
    },
    "waitlist-claimed": {"booking_id": "bk-9", "entry_id": "wl-7"},
    "waitlist-expired": {"entry_id": "wl-7", "deadline": "12:15 on Thursday 3 December"},
    "waitlist-closed": {"entry_id": "wl-7"},
    "waitlist-taken": {"entry_id": "wl-7", "position": 2},
    "booking-cancelled": {"booking_id": "bk-1", "book_url": "https://bookit.local/venues/v-1"},
    "check-in": {
        "purpose": "Choir practice",
        "booking_id": "bk-1",
        "confirmed": True,
        "check_in_url": "https://bookit.local/l/abc.def",
        "check_in_until": "14:15 on Thursday 3 December",
    },
    "no-show": {
        "purpose": "Choir practice",
        "booking_id": "bk-1",
        "confirmed": False,
        "check_in_until": "14:15 on Thursday 3 December",
        "strike_limit": 3,
        "strike_days": 30,
        "no_strike": "",
    },
    "suspended": {
        "booking_id": "bk-1",
        "until": "14:15 on Saturday 2 January",
        "strikes": 3,
        "strike_days": 30,
    },
}
SUBJECT_ID = {
    "booking-confirmed": "bk-1",
    "confirmation-received": "bk-1",
    "confirmation-waived": "bk-1",
    "reminder": "bk-1",
    "auto-cancelled": "bk-1",
    "waitlist-offer": "wl-7",
    "waitlist-claimed": "bk-9",
    "waitlist-expired": "wl-7",
    "waitlist-closed": "wl-7",
    "waitlist-taken": "wl-7",
    "booking-cancelled": "bk-1",
    "check-in": "bk-1",
    "no-show": "bk-1",
    "suspended": "bk-1",
}
BOOKING_KINDS = (
    "booking-confirmed",
    "confirmation-received",
    "confirmation-waived",
    "reminder",
    "auto-cancelled",
    "waitlist-claimed",
    "check-in",
    "no-show",
    "suspended",
    "booking-cancelled",
)
ENTRY_KINDS = ("waitlist-offer", "waitlist-expired", "waitlist-closed", "waitlist-taken")


def context(kind: str, **overrides: object) -> dict[str, object]:
    return {**COMMON, **EXTRA[kind], **overrides}


def compose(kind: str, **overrides: Any) -> EmailMessage:
    ctx = overrides.pop("context", None) or context(kind)
    args: dict[str, Any] = {
        "to": "alice@example.com",
        "message_id": MESSAGE_ID,
        "sent_at": SENT_AT,
        "subject_id": SUBJECT_ID[kind],
        "context": ctx,
    }
    return compose_email(kind, **{**args, **overrides})


def wire(message: EmailMessage) -> EmailMessage:
    """The message as a receiving mail client parses it."""
    parsed = BytesParser(EmailMessage, policy=default_policy).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]


def links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


class _Blocks(HTMLParser):
    """The text of the body's block elements (headings, paragraphs, cells), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "p", "td"):
            self.blocks.append("")
            self._open = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "p", "td"):
            self._open = False

    def handle_data(self, data: str) -> None:
        if self._open:
            self.blocks[-1] += data


def parsed_html(html: str) -> _Blocks:
    parser = _Blocks()
    parser.feed(html)
    return parser


def first_two_blocks(html: str) -> list[str]:
    return [" ".join(block.split()) for block in parsed_html(html).blocks[:2]]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_text_then_html_with_the_booking_details_and_signature(kind: str) -> None:
    message = wire(compose(kind))

    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text, html = bodies(message)
    for body in (text, html):
        for value in ("Main Hall", "Thursday 3 December 2026", "14:00–16:00", "London time"):
            assert value in body
    assert text.rstrip().endswith("BookIT")
    assert "BookIT</p>" in html


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_the_headers_machines_read(kind: str) -> None:
    message = wire(compose(kind))

    assert message["From"] == "BookIT <no-reply@bookit.local>"
    assert message["To"] == "alice@example.com"
    assert message["X-BookIT-Kind"] == kind
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == MESSAGE_ID
    assert message["Date"].datetime == SENT_AT
    assert "Main Hall" in message["Subject"]


def test_subjects_say_what_happened() -> None:
    assert wire(compose("reminder"))["Subject"] == (
        "Reminder: your booking at Main Hall on Thursday 3 December 2026"
    )
    assert wire(compose("auto-cancelled"))["Subject"] == "Booking auto-cancelled: Main Hall"
    assert wire(compose("waitlist-offer"))["Subject"] == "A slot is free for you: Main Hall"
    assert len({wire(compose(kind))["Subject"] for kind in KINDS}) == len(KINDS)


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_booking_kinds_name_the_booking(kind: str) -> None:
    message = wire(compose(kind))

    assert message["X-BookIT-Booking"] == SUBJECT_ID[kind]
    if kind != "waitlist-claimed":
        assert message["X-BookIT-Entry"] is None


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_waitlist_kinds_name_the_entry(kind: str) -> None:
    message = wire(compose(kind))

    assert message["X-BookIT-Entry"] == "wl-7"
    assert message["X-BookIT-Booking"] is None


def test_a_claim_names_both_the_new_booking_and_the_entry_it_came_from() -> None:
    message = wire(compose("waitlist-claimed"))
    assert (message["X-BookIT-Booking"], message["X-BookIT-Entry"]) == ("bk-9", "wl-7")

    ctx = context("waitlist-claimed")
    del ctx["entry_id"]
    without_entry = wire(compose("waitlist-claimed", context=ctx))
    assert without_entry["X-BookIT-Booking"] == "bk-9"
    assert without_entry["X-BookIT-Entry"] is None


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown email kind 'birthday'"):
        compose_email(
            "birthday",
            to="alice@example.com",
            message_id=MESSAGE_ID,
            sent_at=SENT_AT,
            subject_id="bk-1",
            context=context("reminder"),
        )


@pytest.mark.parametrize("to", ["alice@example.com\r\nBcc: eve@example.com", "a@x.org\nX: y"])
def test_recipient_with_a_line_break_is_refused(to: str) -> None:
    with pytest.raises(ValueError, match="recipient"):
        compose("reminder", to=to)


def test_naive_send_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compose("reminder", sent_at=datetime(2026, 12, 2, 12, 0))


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("reminder", "confirm_url"),
        ("reminder", "purpose"),
        ("waitlist-offer", "claim_url"),
        ("waitlist-offer", "minutes"),
        ("auto-cancelled", "reason"),
        ("waitlist-expired", "deadline"),
        ("waitlist-closed", "venue_name"),
        ("booking-confirmed", "name"),
    ],
)
def test_a_missing_context_key_is_a_loud_error(kind: str, key: str) -> None:
    ctx = context(kind)
    del ctx[key]
    with pytest.raises(jinja2.UndefinedError, match=key):
        compose(kind, context=ctx)


def test_user_text_is_escaped_in_html_and_kept_verbatim_in_text() -> None:
    ctx = context("reminder", purpose="<script>alert(1)</script>", venue_name="<script>Hall</script>")
    text, html = bodies(wire(compose("reminder", context=ctx)))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;Hall&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in text


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "\u2028", "\x0b", "\x85"])
def test_line_breaks_in_the_venue_name_cannot_add_a_header(newline: str) -> None:
    ctx = context("reminder", venue_name=f"Hall{newline}Bcc: eve@example.com{newline}")
    message = wire(compose("reminder", context=ctx))

    assert message["Bcc"] is None
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "X-BookIT-Kind",
            "Auto-Submitted",
            "X-BookIT-Booking",
            "MIME-Version",
            "Content-Type",
        ]
    )
    subject = message["Subject"]
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Reminder: your booking at Hall Bcc: eve@example.com on Thursday 3 December 2026"


@given(venue_name=st.text(max_size=80))
def test_no_venue_name_changes_which_headers_exist(venue_name: str) -> None:
    message = wire(compose("auto-cancelled", context=context("auto-cancelled", venue_name=venue_name)))

    assert len(message.keys()) == 10
    assert len(message.get_all("Subject") or []) == 1
    assert str(message["Subject"]).startswith("Booking auto-cancelled:")
    assert str(message["Subject"]).splitlines() == [str(message["Subject"])]


def test_reminder_asks_for_confirmation_with_a_deadline() -> None:
    text, html = bodies(wire(compose("reminder")))

    assert EXTRA["reminder"]["confirm_url"] in links(html)
    assert EXTRA["reminder"]["cancel_url"] in links(html)
    assert str(EXTRA["reminder"]["confirm_url"]) in text
    assert "12:00 on Thursday 3 December" in text
    assert "12:00 on Thursday 3 December" in html


def test_reminder_for_a_confirmed_booking_offers_only_cancel() -> None:
    text, html = bodies(wire(compose("reminder", context=context("reminder", confirmed=True))))

    confirm_url = str(EXTRA["reminder"]["confirm_url"])
    assert confirm_url not in text
    assert confirm_url not in links(html)
    assert "Confirm booking" not in html
    assert links(html) == [EXTRA["reminder"]["cancel_url"]]
    assert "already confirmed" in text and "already confirmed" in html


def test_the_receipt_says_what_comes_next_on_its_second_line() -> None:
    text, html = bodies(wire(compose("booking-confirmed")))
    said = EXTRA["booking-confirmed"]["reminder_note"]
    assert text.splitlines()[1] == said
    assert first_two_blocks(html)[1] == said


def test_waitlist_offer_gives_the_window_and_both_choices() -> None:
    text, html = bodies(wire(compose("waitlist-offer")))

    assert links(html) == [
        EXTRA["waitlist-offer"]["claim_url"],
        EXTRA["waitlist-offer"]["decline_url"],
    ]
    # The deadline and the time left, on the second line, in the text and the HTML alike.
    lead = "Claim it by 12:15 on Thursday 3 December (15 minutes left), or it goes to the next person"
    assert text.splitlines()[1].startswith(lead)
    assert first_two_blocks(html)[1].startswith(lead)
    one = context("waitlist-offer", minutes=1)
    assert "(1 minute left)" in bodies(wire(compose("waitlist-offer", context=one)))[0]


def test_expired_and_closed_waitlist_emails_explain_the_outcome() -> None:
    expired, _ = bodies(wire(compose("waitlist-expired")))
    assert "ran out at 12:15 on Thursday 3 December" in expired.splitlines()[0]
    assert "no longer on the waitlist" in expired

    closed, _ = bodies(wire(compose("waitlist-closed")))
    assert "the slot has started" in closed.splitlines()[0]
    assert "No place came free for you" in closed.splitlines()[1]


def test_auto_cancelled_gives_the_reason_and_a_way_to_book_again() -> None:
    text, html = bodies(wire(compose("auto-cancelled")))

    assert "it was not confirmed in time" in text
    assert links(html) == [EXTRA["auto-cancelled"]["book_url"]]


def test_same_inputs_give_the_same_bytes_apart_from_the_mime_boundary() -> None:
    first, second = compose("reminder"), compose("reminder")
    assert bodies(first) == bodies(second)
    assert first.items()[:-1] == second.items()[:-1]


def test_the_recipients_name_is_in_the_to_header_encoded_for_the_wire() -> None:
    message = compose("reminder", to_name='Zoë "Z" O\'Brien, Jr.')
    raw = message.as_bytes()
    received = wire(message)

    [to] = received["To"].addresses
    assert (to.display_name, to.addr_spec) == ('Zoë "Z" O\'Brien, Jr.', "alice@example.com")
    assert b"Zo\xc3\xab" not in raw  # non-ASCII goes out RFC 2047-encoded, never raw
    assert wire(compose("reminder", to_name="Ann Smith"))["To"] == "Ann Smith <alice@example.com>"
    assert wire(compose("reminder"))["To"] == "alice@example.com"


def test_a_line_break_in_a_name_cannot_add_a_header() -> None:
    received = wire(compose("reminder", to_name="Ann\r\nBcc: eve@example.com"))
    assert received["Bcc"] is None
    assert received["To"].addresses[0].addr_spec == "alice@example.com"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_greets_by_name_or_just_hello(kind: str) -> None:
    named, named_html = bodies(wire(compose(kind)))
    nameless, nameless_html = bodies(wire(compose(kind, context=context(kind, name=""))))
    assert "Hello Alice," in named.splitlines() and ">Hello Alice,<" in named_html
    assert "Hello," in nameless.splitlines() and ">Hello,<" in nameless_html
    assert "@" not in nameless.split("Hello,")[0]


WHY_WORDS = {
    "booking-confirmed": "You booked",
    "confirmation-received": "is confirmed",
    "confirmation-waived": "needs no confirmation any more",
    "reminder": "is coming up",
    "auto-cancelled": "was cancelled: it was not confirmed in time",
    "booking-cancelled": "is cancelled, as you asked",
    "waitlist-offer": "A slot you are waiting for is free",
    "waitlist-claimed": "You claimed",
    "waitlist-expired": "ran out at",
    "waitlist-closed": "has closed",
    "waitlist-taken": "Someone else claimed",
    "check-in": "starts now",
    "no-show": "was released",
    "suspended": "are suspended for you",
}
NEXT_WORDS = (
    "Please ",
    "Claim it by",
    "nothing",
    "Nothing",
    "book again",
    "book it again",
    "look for",
    "You can book",
)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_opens_with_why_it_was_sent_then_what_to_do_in_text_and_html(kind: str) -> None:
    text, html = bodies(wire(compose(kind)))
    why, then = text.splitlines()[:2]

    assert WHY_WORDS[kind] in why and "Main Hall" in why
    assert any(words in then for words in NEXT_WORDS), then
    assert first_two_blocks(html) == [why, then]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_the_venues_zone_once_and_as_people_say_it(kind: str) -> None:
    text, html = bodies(wire(compose(kind)))
    for body in (text, html):
        assert body.count("London time") == 1
        assert "Europe/London" not in body


@pytest.mark.parametrize("kind", KINDS)
def test_every_kinds_html_is_self_contained_with_inline_styles_lang_and_dir(kind: str) -> None:
    _, html = bodies(wire(compose(kind)))
    page = parsed_html(html)
    tags = dict(page.tags)

    assert tags["html"] == {"lang": "en", "dir": "ltr"}
    assert not {"style", "link", "img", "script", "iframe", "object", "svg"} & set(tags)
    for tag, attrs in page.tags:
        assert "class" not in attrs and "src" not in attrs, tag
    assert "url(" not in html and "@import" not in html
    assert all(href.startswith("https://") for href in links(html))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kinds_text_part_reads_alone_with_each_link_written_out(kind: str) -> None:
    text, html = bodies(wire(compose(kind)))
    assert "<" not in text.replace("<script>", "") and "&amp;" not in text
    for href in links(html):
        assert href in text


@pytest.mark.parametrize(
    ("minutes", "said"),
    [(1, "1 minute"), (15, "15 minutes"), (60, "1 hour"), (150, "2 hours 30 minutes"), (480, "8 hours")],
)
def test_the_offer_says_the_time_left_as_people_say_it(minutes: int, said: str) -> None:
    text, _ = bodies(wire(compose("waitlist-offer", context=context("waitlist-offer", minutes=minutes))))
    assert f"({said} left)" in text.splitlines()[1]


def test_a_service_compiles_every_template_before_its_first_email(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bookit run` compiles the templates at start-up: after that no email reads one from disk,
    so a long-running service's first batch does not pay for compiling them."""
    from bookit.adapters.mail.compose import _environments, compile_templates

    _environments.cache_clear()  # as in a new process
    compile_templates()
    loader = _environments()[0].loader
    assert loader is not None

    def no_reading(*args: object) -> None:
        raise AssertionError("a template was read from disk after compile_templates()")

    monkeypatch.setattr(type(loader), "get_source", no_reading)
    for kind in KINDS:
        assert compose(kind)["Subject"]


def test_the_same_instant_sent_from_two_offsets_is_dated_in_each_s_own() -> None:
    utc = compose("reminder", sent_at=SENT_AT)
    paris = compose("reminder", sent_at=SENT_AT.astimezone(timezone(timedelta(hours=1))))
    assert utc["Date"] == "Wed, 02 Dec 2026 12:00:05 +0000"
    assert paris["Date"] == "Wed, 02 Dec 2026 13:00:05 +0100"
