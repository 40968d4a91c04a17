"""Composed emails really arrive: in a Maildir any mail client can read, or at an SMTP server."""

from __future__ import annotations

import mailbox
import resource
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bookit.adapters.mail import (
    MailDeliveryError,
    MaildirOutbox,
    Outbox,
    SmtpOutbox,
    compose_email,
)
from bookit.adapters.mail.outbox import WRITERS, keep_writer_threads, stop_writer_threads

SENT_AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def offer(message_id: str = "<offer-1@bookit>", sent_at: datetime = SENT_AT) -> EmailMessage:
    return compose_email(
        "waitlist-offer",
        to="bob@example.com",
        message_id=message_id,
        sent_at=sent_at,
        subject_id="wl-7",
        context={
            "name": "Bob",
            "venue_name": "Main Hall",
            "date": "Thursday 3 December 2026",
            "start": "14:00",
            "end": "16:00",
            "tz": "Europe/London",
            "entry_id": "wl-7",
            "claim_url": "https://bookit.local/waitlist/wl-7/claim",
            "decline_url": "https://bookit.local/waitlist/wl-7/decline",
            "deadline": "12:15:00",
            "minutes": 15,
        },
    )


def delivered_files(root: Path) -> list[Path]:
    return [file for sub in ("new", "cur") for file in (root / sub).iterdir()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- Maildir -------------------------------------------------------------------------------


def test_maildir_is_created_and_the_message_lands_in_new(tmp_path: Path) -> None:
    root = tmp_path / "home" / "outbox"
    outbox = MaildirOutbox(root)
    assert isinstance(outbox, Outbox)

    outbox.deliver(offer())

    assert [file.parent.name for file in delivered_files(root)] == ["new"]
    assert list((root / "tmp").iterdir()) == []
    [message] = outbox.messages()
    assert message["Message-ID"] == "<offer-1@bookit>"
    assert message["X-BookIT-Entry"] == "wl-7"
    assert message.get_body(("html",)) is not None


def test_delivering_the_same_message_twice_leaves_one_copy(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)

    outbox.deliver(offer())
    outbox.deliver(offer())

    assert len(delivered_files(tmp_path)) == 1
    assert len(outbox.messages()) == 1


def test_a_message_already_read_by_a_mail_client_is_not_delivered_again(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)
    outbox.deliver(offer())
    # What a mail client does on reading: move to cur/ and append the flags.
    [file] = delivered_files(tmp_path)
    file.rename(tmp_path / "cur" / f"{file.name}:2,S")

    outbox.deliver(offer())

    assert [f.parent.name for f in delivered_files(tmp_path)] == ["cur"]
    assert len(outbox.messages()) == 1


def test_a_batch_skips_exactly_the_messages_already_read(tmp_path: Path) -> None:
    """cur/ is listed once for a whole batch: the read ones are skipped, the others land."""
    outbox = MaildirOutbox(tmp_path)
    outbox.deliver_all([offer(f"<offer-{n}@bookit>") for n in range(2)])
    for file in delivered_files(tmp_path):
        file.rename(tmp_path / "cur" / f"{file.name}:2,S")

    outbox.deliver_all([offer(f"<offer-{n}@bookit>") for n in range(4)])

    assert sorted(f.parent.name for f in delivered_files(tmp_path)) == ["cur", "cur", "new", "new"]
    assert len(outbox.messages()) == 4


def test_a_batch_lands_whole_once_per_message_id_and_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)
    outbox.deliver(offer("<first@bookit>"))

    batch = [
        offer("<first@bookit>"),
        offer("<second@bookit>"),
        offer("<third@bookit>"),
        offer("<second@bookit>"),
    ]
    delivered = outbox.deliver_all(batch)

    assert delivered.error is None
    ids = sorted(str(message["Message-ID"]) for message in outbox.messages())
    assert ids == ["<first@bookit>", "<second@bookit>", "<third@bookit>"]
    assert list((tmp_path / "tmp").iterdir()) == []
    assert all(message["X-BookIT-Entry"] == "wl-7" for message in outbox.messages())


def test_a_batch_with_one_file_the_disk_refuses_delivers_none_and_leaves_nothing_in_tmp(
    tmp_path: Path,
) -> None:
    """The batch's files are written by several threads at once; when the disk refuses one (here
    a real EFBIG: a file-size limit below one message's size), none is linked into new/, every
    file already written is removed, and the error names the Maildir, to be retried whole."""
    outbox = MaildirOutbox(tmp_path)
    batch = [offer(f"<offer-{n}@bookit>") for n in range(12)]
    big = EmailMessage()
    big["Message-ID"] = "<big@bookit>"
    big.set_content("x" * 200_000)
    batch[7] = big
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        delivered = outbox.deliver_all(batch)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, ignored)

    assert isinstance(delivered.error, MailDeliveryError)
    assert str(tmp_path) in str(delivered.error)
    assert delivered_files(tmp_path) == []
    assert list((tmp_path / "tmp").iterdir()) == []

    assert outbox.deliver_all(batch).error is None  # retried whole once the disk allows it
    assert len(outbox.messages()) == 12


def _writers() -> set[int]:
    return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("maildir-writer")}


def test_a_service_keeps_its_writer_threads_and_a_one_off_command_leaves_none(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)
    threads = threading.active_count()
    outbox.deliver_all([offer(f"<once-{n}@bookit>") for n in range(6)])
    assert threading.active_count() == threads, "a batch's writer threads outlived it"

    keep_writer_threads()
    try:
        outbox.deliver_all([offer(f"<kept-{n}@bookit>") for n in range(12)])
        first = _writers()
        outbox.deliver_all([offer(f"<again-{n}@bookit>") for n in range(12)])
        # The pool starts a thread only when none is idle, up to WRITERS, and ends none.
        assert first and first <= _writers(), "the first batch's writer threads did not outlive it"
        assert len(_writers()) <= WRITERS
        assert len(outbox.messages()) == 30
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        stop_writer_threads()
    assert threading.active_count() == threads


def test_different_messages_are_all_kept_oldest_first(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)
    outbox.deliver(offer("<later@bookit>", SENT_AT + timedelta(minutes=5)))
    outbox.deliver(offer("<earlier@bookit>", SENT_AT))
    outbox.deliver(offer("<latest@bookit>", SENT_AT + timedelta(hours=1)))

    ids = [message["Message-ID"] for message in outbox.messages()]
    assert ids == ["<earlier@bookit>", "<later@bookit>", "<latest@bookit>"]


def test_python_mailbox_reads_the_outbox(tmp_path: Path) -> None:
    MaildirOutbox(tmp_path).deliver(offer())

    box = mailbox.Maildir(tmp_path, create=False)
    [message] = list(box)
    assert message["X-BookIT-Kind"] == "waitlist-offer"
    assert message["Subject"] == "A slot is free for you: Main Hall"
    assert message["To"] == "bob@example.com"
    assert message.get_content_type() == "multipart/alternative"


def test_maildir_refuses_a_message_without_message_id(tmp_path: Path) -> None:
    message = offer()
    del message["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        MaildirOutbox(tmp_path).deliver(message)


def test_unwritable_maildir_is_a_delivery_error(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path)
    (tmp_path / "tmp").rmdir()
    (tmp_path / "tmp").write_text("not a directory")

    with pytest.raises(MailDeliveryError, match=str(tmp_path)):
        outbox.deliver(offer())


# --- SMTP ----------------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, _Recorder]]:
    recorder = _Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", recorder
    finally:
        controller.stop()


def test_smtp_server_receives_both_parts_and_our_headers(
    smtp_server: tuple[str, _Recorder],
) -> None:
    url, recorder = smtp_server

    SmtpOutbox(url).deliver(offer())

    [envelope] = recorder.envelopes
    assert envelope.mail_from == "no-reply@bookit.local"
    assert envelope.rcpt_tos == ["bob@example.com"]
    received = BytesParser(EmailMessage, policy=default_policy).parsebytes(envelope.content)
    assert isinstance(received, EmailMessage)
    assert received["Message-ID"] == "<offer-1@bookit>"
    assert received["X-BookIT-Kind"] == "waitlist-offer"
    assert received["X-BookIT-Entry"] == "wl-7"
    assert received["Date"].datetime == SENT_AT
    assert [part.get_content_type() for part in received.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    text = received.get_body(("plain",))
    assert text is not None
    assert "https://bookit.local/waitlist/wl-7/claim" in text.get_content()


def test_smtp_to_a_closed_port_is_a_delivery_error_naming_the_server() -> None:
    port = free_port()  # bound then released: nothing listens there now
    outbox = SmtpOutbox(f"smtp://127.0.0.1:{port}", timeout=2.0)

    with pytest.raises(MailDeliveryError, match=f"127.0.0.1:{port}") as caught:
        outbox.deliver(offer())
    assert f"127.0.0.1:{port}" in caught.value.reason


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.local:25", "smtp://"),
        ("mail.local:25", "smtp://"),
        ("smtp://mail.local", "port"),
        ("smtp://mail.local:notaport", "port"),
        ("smtp://:25", "host"),
        ("smtp://user:secret@mail.local:25", "credentials"),
        ("smtp://mail.local:25/inbox", "just smtp://host:port"),
    ],
)
def test_bad_smtp_urls_are_refused_with_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SmtpOutbox(url)
