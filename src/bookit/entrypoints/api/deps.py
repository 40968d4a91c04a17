"""What every route gets from the request: the verified caller, the door, the Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPBearer

from bookit.entrypoints.api.auth import TokenRules
from bookit.entrypoints.api.door import Door
from bookit.entrypoints.api.idempotency import MAX_KEY
from bookit.entrypoints.api.problems import documented
from bookit.errors import Refused

# Declares the scheme in the OpenAPI document (the docs' "Authorize" button); TokenRules checks.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="sub = your email address")


@dataclass
class Caller:
    actor: str
    door: Door
    _admin: bool | None = field(default=None, repr=False)

    @property
    def admin(self) -> bool:
        """From BookIT's roster, asked once per request and only when a route needs to know."""
        if self._admin is None:
            self._admin = self.door.is_admin(self.actor)
        return self._admin

    def may_see(self, owner: str, what: str) -> None:
        if owner != self.actor and not self.admin:
            raise Refused(f"only the owner or an admin may see this {what}", "not_owner")


async def _caller(request: Request, _scheme: object = Security(_bearer)) -> Caller:
    tokens: TokenRules = request.app.state.tokens
    actor = tokens.actor(request.headers.get("authorization"))
    return Caller(actor, request.app.state.door)


CallerDep = Annotated[Caller, Depends(_caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY,
        description="Any text up to 200 characters: a retry with the same key has one effect "
        "and gets the first answer again (same status, same body).",
    ),
]

# Every route can answer these; routes add their own.
ALWAYS = documented(401, 422, 503)
WITH_BODY = documented(400, 401, 413, 415, 422, 503)
