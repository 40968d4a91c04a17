"""A receipt per handled command, saved in the same atomic save as the command's effects.

Its id is derived from the command_id, so a second delivery of the same command collides with
the first receipt in the store: the duplicate is answered with the recorded outcome and has no
second effect. No second database, no window between "done" and "recorded as done".
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit.aggregates.base import Cause, DomainAggregate, derived_id


class CommandReceipt(DomainAggregate):
    TOPIC = "bookit.CommandReceipt"

    class Created(DomainAggregate.Created):
        TOPIC = "command.created"

    class Handled(Created):
        TOPIC = "command.handled"
        command_type: str
        outcome: dict[str, Any]

    def __init__(self, command_type: str, outcome: dict[str, Any], **_: Any) -> None:
        self.command_type = command_type
        self.outcome = outcome

    @staticmethod
    def id_for(command_id: str | UUID) -> UUID:
        return derived_id("command", command_id)

    @classmethod
    def handled(cls, command_type: str, outcome: dict[str, Any], cause: Cause) -> CommandReceipt:
        return cls._start(
            cls.Handled,
            cls.id_for(cause.command_id),
            cause,
            command_type=command_type,
            outcome=outcome,
        )
