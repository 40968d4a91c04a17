"""The API's one way in: a request becomes the same command the CLI and the bus build, and runs
the same way the CLI runs it: in this process (`service.bus.handle`) on the local bus, or
published to the broker and waited for (`send_and_wait`, the CLI's timeout and `no_reply`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bookit import commands as c
from bookit.application import Outcome
from bookit.bootstrap import STORE_ERRORS, Service
from bookit.entrypoints.api import idempotency
from bookit.errors import BookitError, StoreUnavailable
from bookit.localtime import iso
from bookit.wording import HTTP_NAMES


@dataclass
class Door:
    service: Service
    bus_url: str = "local"

    @property
    def clock(self) -> Callable[[], datetime]:
        clock: Callable[[], datetime] = self.service.bus.clock
        return clock

    def is_admin(self, email: str) -> bool:
        return self.service.app.is_admin(email)

    def run(
        self, cls: type[c.Command], actor: str, operation: str, key: str | None, **fields: Any
    ) -> Outcome:
        """Run the command once; with a key, a retry gets the first outcome or refusal again."""
        cid = idempotency.command_id(actor, operation, key)
        command = c.build(cls, HTTP_NAMES, command_id=cid, actor=actor, **fields)
        engine = self.service.engine
        if key is not None:
            idempotency.claim_key(engine, actor, key, operation, fields, str(iso(self.clock())))
        earlier = idempotency.earlier_refusal(engine, cid) if key is not None else None
        if earlier is not None:
            raise earlier
        try:
            if self.bus_url == "local":
                return self.service.bus.handle(command)
            from bookit.adapters.bus_client import send_and_wait

            return send_and_wait(self.bus_url, command)
        except BookitError as error:
            # On the message bus the worker remembers its own refusals, by the same command_id.
            if key is not None and self.bus_url == "local":
                idempotency.remember_refusal(
                    engine, cid, error, str(iso(self.clock())), f"{operation} {fields}"
                )
            raise
        except STORE_ERRORS as error:
            raise StoreUnavailable(error) from None
