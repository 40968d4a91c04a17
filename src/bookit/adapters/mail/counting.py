"""An outbox that sends nothing and counts what it was given, by kind: for runs that imagine
(`bookit simulate`, `bookit whatif`), where no email may reach anybody (DESIGN rule 18)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from email.message import EmailMessage

from bookit.adapters.mail.outbox import Delivered


class CountingOutbox:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()

    def deliver(self, message: EmailMessage) -> None:
        self.kinds[str(message["X-BookIT-Kind"])] += 1
        self.recipients[str(message["To"])] += 1

    def deliver_all(self, messages: Sequence[EmailMessage]) -> Delivered:
        for message in messages:
            self.deliver(message)
        return Delivered(sent=list(messages))

    @property
    def total(self) -> int:
        return sum(self.kinds.values())
