"""Who holds the admin role. One small aggregate: grants are rare, checks are reads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookit.aggregates.base import SYSTEM, Cause, DomainAggregate, derived_id
from bookit.errors import Refused


class AdminRoster(DomainAggregate):
    TOPIC = "bookit.AdminRoster"
    ID: UUID = derived_id("admin-roster")

    class Created(DomainAggregate.Created):
        TOPIC = "admins.created"

    class Started(Created):
        TOPIC = "admins.started"

    class AdminGranted(DomainAggregate.Event):
        TOPIC = "admins.granted"
        email: str

        def apply(self, roster: AdminRoster) -> None:
            roster.admins.add(self.email)

    def __init__(self, **_: Any) -> None:
        self.admins: set[str] = set()

    @classmethod
    def start(cls, cause: Cause) -> AdminRoster:
        return cls._start(cls.Started, cls.ID, cause)

    def is_admin(self, email: str) -> bool:
        return email in self.admins

    def grant(self, email: str, cause: Cause) -> bool:
        """Grant the role; granting it again changes nothing. Only an admin grants it, but for
        the local operator (`system`, the CLI with access to the store), who grants the first."""
        if cause.actor != SYSTEM and not self.is_admin(cause.actor):
            raise Refused("only an admin may grant the admin role", "not_admin")
        if email in self.admins:
            return False
        self._record(self.AdminGranted, cause, email=email)
        return True
