"""The real application on a throwaway store: `scratch_service(tmp_path, rules=...)`.

It is `bookit.bootstrap` (the same wiring as `bookit run`: event store, read models, policies,
mailer) on SQLite files under `tmp_path`, with a fake clock and no server. Commands go through
`service.bus.handle(...)`, which also lets every follower catch up, as the CLI does.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from bookit.adapters.mail import MaildirOutbox, OneByOne, Outbox
from bookit.bootstrap import Service, bootstrap
from bookit.config import Rules
from bookit.testing.clock import FakeClock


class MemoryOutbox(OneByOne):
    """Keeps every email it is given in `messages`, in order (faster than a Maildir)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def deliver(self, message: EmailMessage) -> None:
        self.messages.append(message)

    def of_kind(self, kind: str) -> Sequence[EmailMessage]:
        return [m for m in self.messages if m["X-BookIT-Kind"] == kind]


def scratch_service(
    tmp_path: str | Path,
    rules: Rules | None = None,
    *,
    clock: FakeClock | None = None,
    outbox: Outbox | None = None,
) -> Service:
    """A BookIT service on a fresh SQLite store in `tmp_path/bookit` (the rules given, or the
    defaults; never the environment's), its mail in a Maildir there unless `outbox` is given.
    Close it with `service.close()` (the pytest fixture `bookit_service` does)."""
    home = Path(tmp_path) / "bookit"
    if (home / "events.sqlite").exists():
        raise ValueError(f"{home} already holds a store: give scratch_service a fresh directory")
    return bootstrap(
        home,
        clock=clock or FakeClock(),
        rules=rules or Rules(),
        outbox=outbox or MaildirOutbox(home / "outbox"),
    )
