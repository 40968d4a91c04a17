"""Where composed emails go: a local Maildir (the default) or an SMTP relay."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import smtplib
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit


class MailDeliveryError(Exception):
    """A transport could not deliver a message; `reason` says why.

    `permanent` means the server refused this message for good (SMTP 5xx for its recipient or
    its content): sending it again will not help. Anything else (no connection, a timeout, a 4xx,
    a full disk) may pass, so the message is worth another try later.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass
class Delivered:
    """What became of a batch of messages handed to an outbox, in the order they were given."""

    sent: list[EmailMessage] = field(default_factory=list)
    refused: list[tuple[EmailMessage, str]] = field(default_factory=list)  # for good: not retried
    error: MailDeliveryError | None = None  # worth retrying: the rest of the batch was not tried


@runtime_checkable
class Outbox(Protocol):
    def deliver(self, message: EmailMessage) -> None:
        """Deliver one message; raises MailDeliveryError."""

    def deliver_all(self, messages: Sequence[EmailMessage]) -> Delivered:
        """Deliver an event's messages: a Maildir syncs its directory once for the batch, a server
        takes them one by one. Stops at the first failure that may pass."""


class OneByOne:
    """`deliver_all` for an outbox that can only take one message at a time."""

    def deliver(self, message: EmailMessage) -> None:
        raise NotImplementedError

    def deliver_all(self, messages: Sequence[EmailMessage]) -> Delivered:
        delivered = Delivered()
        for message in messages:
            try:
                self.deliver(message)
            except MailDeliveryError as error:
                if not error.permanent:
                    delivered.error = error
                    return delivered
                delivered.refused.append((message, error.reason))
                continue
            delivered.sent.append(message)
        return delivered


_NAME_LENGTH = hashlib.sha256().digest_size * 2  # a file name: its Message-ID's SHA-256 in hex
WRITERS = 8  # threads writing and syncing one batch's files


class MaildirOutbox:
    """Delivers into a Maildir, at most once per Message-ID.

    The file name is a hash of the Message-ID, so re-delivering after a crash (the email went
    out but the caller never recorded it) finds the earlier copy instead of adding a duplicate.
    """

    # Delivering a message again finds the earlier copy: a follower may hand it a whole batch
    # and, after a crash, the same batch again.
    redelivery_is_harmless = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)

    def deliver(self, message: EmailMessage) -> None:
        self._write_all([message])

    def deliver_all(self, messages: Sequence[EmailMessage]) -> Delivered:
        """All or none: a Maildir delivers each Message-ID once however often it is asked, so a
        failure is retried whole."""
        try:
            self._write_all(messages)
        except MailDeliveryError as error:
            return Delivered(error=error)
        return Delivered(sent=list(messages))

    def _write_all(self, messages: Sequence[EmailMessage]) -> None:
        """Deliver each message durably: its file is synced before it is linked into new/, and
        new/ itself is synced once, after the last link, before this returns.

        The files are written and synced by several threads at once (`_write_in_parallel`), and
        linked in order once all are on disk; new/ is synced once for the batch."""
        named = []
        for message in messages:
            message_id = message["Message-ID"]
            if not message_id:
                raise ValueError("a message needs a Message-ID to be delivered exactly once")
            named.append((hashlib.sha256(str(message_id).encode()).hexdigest(), message))
        written: list[tuple[str, str]] = []  # (name, temporary file)
        seen: set[str] = set()  # the same Message-ID twice in one batch is one file
        try:
            try:
                read = self._read_names() if named else set()
                due: list[tuple[str, bytes]] = []
                for name, message in named:
                    if name not in seen and not self._already_delivered(name, read):
                        due.append((name, message.as_bytes(policy=default_policy)))
                    seen.add(name)
                _write_in_parallel(self._write_synced, due, written)
                for name, tmp in written:
                    self._link(tmp, self.path / "new" / name)
                if named:
                    _fsync_dir(self.path / "new")
            finally:
                for _name, tmp in written:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
        except OSError as exc:
            raise MailDeliveryError(f"cannot write to Maildir {self.path}: {exc}") from exc

    def messages(self) -> list[EmailMessage]:
        """Every delivered message, read or not, oldest first."""
        parser = BytesParser(EmailMessage, policy=default_policy)
        found: list[tuple[datetime, str, EmailMessage]] = []
        for sub in ("new", "cur"):
            for file in (self.path / sub).iterdir():
                if file.name.startswith("."):
                    continue
                message = parser.parsebytes(file.read_bytes())
                found.append((_sent_at(message), file.name, message))
        found.sort(key=lambda item: (item[0], item[1]))
        return [message for _, _, message in found]

    def _already_delivered(self, name: str, read: set[str]) -> bool:
        return name in read or os.path.exists(self.path / "new" / name)

    def _read_names(self) -> set[str]:
        """The names of the messages in cur/: a mail client moves a message there once read and
        appends ":2,<flags>" to its name. Listed once a batch, not once a message: cur/ grows
        with everything people have read."""
        with os.scandir(self.path / "cur") as read:
            return {entry.name[:_NAME_LENGTH] for entry in read}

    def _write_synced(self, name: str, data: bytes) -> str:
        """The message's bytes in a new file under tmp/, on disk; returns its path."""
        fd, tmp = tempfile.mkstemp(prefix=f"{name}.", dir=self.path / "tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    @staticmethod
    def _link(tmp: str, target: Path) -> None:
        try:
            # link() refuses to overwrite, so two racing deliveries leave exactly one file.
            os.link(tmp, target)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                raise
            os.replace(tmp, target)  # filesystem without hard links


class SmtpOutbox(OneByOne):
    """Sends each message through an SMTP server given as ``smtp://host:port``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.host, self.port = _parse_smtp_url(url)
        self.timeout = timeout

    def deliver(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeliveryError(
                f"cannot send mail via SMTP server {self.host}:{self.port}: {exc}",
                permanent=_refused_for_good(exc),
            ) from exc


def _refused_for_good(exc: Exception) -> bool:
    """A 5xx to RCPT or DATA is about this message; a 5xx to the greeting or MAIL FROM is about
    the server or our sender, so it would refuse every message and is better waited out."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def _parse_smtp_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "smtp":
        raise ValueError(f"SMTP URL must start with smtp://, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"SMTP URL must not contain credentials: {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"SMTP URL must be just smtp://host:port, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"SMTP URL has no host: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"SMTP URL has an invalid port: {url!r}") from None
    if port is None or port == 0:
        raise ValueError(f"SMTP URL needs a port, like smtp://localhost:25, got {url!r}")
    return parts.hostname, port


def _sent_at(message: EmailMessage) -> datetime:
    header = message["Date"]
    when = getattr(header, "datetime", None)
    if not isinstance(when, datetime):
        return datetime.min.replace(tzinfo=UTC)  # undated messages sort first
    # "-0000" parses as naive; RFC 5322 says it is UTC with an unknown local zone.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _write_in_parallel(
    write: Callable[[str, bytes], str], due: list[tuple[str, bytes]], written: list[tuple[str, str]]
) -> None:
    """Each message written and synced by one of several threads, its (name, temporary file)
    appended to `written`: a file's creation and its sync mostly wait on the disk's journal,
    and syncs that wait together are committed together. If any fails, the first error is
    raised once all have finished, so every file written is in `written` to be removed."""
    if len(due) < 2:
        written.extend((name, write(name, data)) for name, data in due)
        return
    kept = _kept_writers()
    # A kept pool is only lent to the block (nullcontext: not shut down after it).
    with contextlib.nullcontext(kept) if kept else ThreadPoolExecutor(min(WRITERS, len(due))) as pool:
        futures = [(name, pool.submit(write, name, data)) for name, data in due]
        errors = [future.exception() for _, future in futures]  # waits for each
    written.extend((name, future.result()) for name, future in futures if future.exception() is None)
    for error in errors:
        if error is not None:
            raise error


_kept: tuple[int, ThreadPoolExecutor] | None = None  # (the process that made it, its pool)
_kept_lock = threading.Lock()


def keep_writer_threads() -> None:
    """From now on this process keeps its writer threads between batches. A long-running service
    that sends emails calls it: starting eight threads for each batch was a fifth of a followers
    process's busy time. A one-off command starts them per batch, and leaves no thread behind."""
    global _kept
    with _kept_lock:
        if _kept is None or _kept[0] != os.getpid():
            _kept = (os.getpid(), ThreadPoolExecutor(WRITERS, thread_name_prefix="maildir-writer"))


def stop_writer_threads() -> None:
    """Let the kept writer threads finish what they have and end."""
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    if kept is not None and kept[0] == os.getpid():
        kept[1].shutdown(wait=True)


def _kept_writers() -> ThreadPoolExecutor | None:
    """The kept pool; None if this process keeps none (a forked child's copy has no threads)."""
    kept = _kept
    if kept is None or kept[0] != os.getpid():
        return None
    return kept[1]


def _fsync_dir(path: Path) -> None:
    # Makes the new directory entry itself survive a power cut, not only the file's bytes.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
