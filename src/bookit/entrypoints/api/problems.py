"""Errors as RFC 9457 problem documents, with the same `code` as the CLI's `--json`.

One table turns BookIT's errors into HTTP statuses, whichever door raised them (the local bus,
a reply from the message bus, the API's own checks): who may not (403), what does not exist
(404), what a rule refused (409), what could not be understood (422), and what was not decided
at all because the store or the bus was away (503, safe to retry with the same Idempotency-Key).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from bookit.errors import BadInput, BookitError

PROBLEM_TYPE = "application/problem+json"

FORBIDDEN = {"not_owner", "not_admin"}
# Not decisions: nothing was decided, a retry may well succeed.
UNAVAILABLE = {"store_unavailable", "bus_unavailable", "no_reply", "contention", "api_not_configured"}

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by a rule",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Unavailable",
}


class Problem(BaseModel):
    """What every error response says (RFC 9457), plus BookIT's short machine-readable code."""

    type: str = Field(description="A URI naming the kind of problem; 'about:blank' or a BookIT code URN.")
    title: str
    status: int
    detail: str
    code: str = Field(description="The same code as the CLI's --json refusals, e.g. slot_taken.")


class ApiError(Exception):
    """A problem the API itself finds (a bad token, a body too large) before any command."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def status_of(error: BookitError) -> int:
    if error.code in FORBIDDEN:
        return 403
    if error.code in UNAVAILABLE:
        return 503
    if isinstance(error, BadInput):
        # A reply from the bus carries only the code, so "unknown_<what>" is what says 404.
        return 404 if error.code.startswith("unknown_") else 422
    return 409


def problem_body(status: int, code: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"urn:bookit:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if status == 503:
        extra.setdefault("Retry-After", "1")
    return JSONResponse(
        problem_body(status, code, detail), status_code=status, media_type=PROBLEM_TYPE, headers=extra
    )


def from_error(error: BookitError) -> JSONResponse:
    return problem(status_of(error), error.code, error.message)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry for each problem status a route can answer."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": TITLES[status], "content": {PROBLEM_TYPE: {"schema": schema}}}
        for status in statuses
    }


def links(status: int, field: str, **operations: str) -> dict[str, object]:
    """`openapi_extra` giving a response OpenAPI links: each named operation takes this
    response's `field` as its path parameter of the same name (so clients and fuzzers can follow
    a new booking or entry to what can be done with it)."""
    return {
        "responses": {
            str(status): {
                "links": {
                    name: {"operationId": op, "parameters": {field: f"$response.body#/{field}"}}
                    for name, op in operations.items()
                }
            }
        }
    }
