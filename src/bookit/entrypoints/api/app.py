"""The HTTP API's app: FastAPI on the link pages' starlette/uvicorn, every error a problem.

`make_api(service, bus_url)` builds it; `bookit run` serves it under /api beside the link
pages. Nothing a client sends can produce a 500: bad JSON is 400, a body over 64 KiB is 413,
fields that do not fit are 422, a store or bus that is away is 503, and BookIT's own refusals
map as in `problems.py`. The catch-all at the end only exists to log a bug and still answer
with a problem.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookit.bootstrap import STORE_ERRORS, Service
from bookit.entrypoints.api import bookings, calendar, docs_page, people, rules, try_page, venues, waitlist
from bookit.entrypoints.api.auth import TokenRules
from bookit.entrypoints.api.door import Door
from bookit.entrypoints.api.problems import ApiError, from_error, problem
from bookit.errors import BookitError, StoreUnavailable
from bookit.wording import HTTP_NAMES, code_of, describe

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
PREFIX = "/api"
DESCRIPTION = """BookIT's bookings, confirmations and fair waitlist for web and mobile apps.

Every request is the same command the CLI and the message bus send, so every rule and refusal
is the same. Send `Authorization: Bearer <JWT>` (its `sub` is your email address) and, on a
POST or DELETE, an `Idempotency-Key` to make a retry safe. Errors are `application/problem+json`
with BookIT's `code`. Dates are `YYYY-MM-DD` and times `HH:MM` in the venue's own zone."""


def make_api(service: Service, bus_url: str = "local", env: Mapping[str, str] | None = None) -> FastAPI:
    env = os.environ if env is None else env
    tokens = TokenRules.from_env(env)
    api = FastAPI(
        title="BookIT",
        version="1",
        description=DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # docs_page serves Swagger UI from a package, never a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    api.state.door = Door(service, bus_url)
    api.state.tokens = tokens
    for family in (venues, rules, bookings, waitlist, calendar, people, try_page, docs_page):
        api.include_router(family.router)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(BookitError, _bookit_error)
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(HTTPException, _http_error)
    for store_error in STORE_ERRORS:
        api.add_exception_handler(store_error, _store_error)
    api.add_exception_handler(Exception, _bug)
    api.add_middleware(_Gate, configured=tokens.configured)
    origins = [o.strip() for o in env.get("BOOKIT_API_CORS_ORIGINS", "").split(",") if o.strip()]
    if origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    return api


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.code, exc.detail, exc.headers)


async def _bookit_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BookitError)
    return from_error(exc)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed_json", "the request body is not valid JSON")
    return problem(422, code_of(errors, "invalid_request"), describe(errors, HTTP_NAMES))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "no_such_route", 405: "method_not_allowed"}
    detail = f"no {request.method} {request.url.path} here" if exc.status_code in codes else str(exc.detail)
    return problem(exc.status_code, codes.get(exc.status_code, "http_error"), detail, dict(exc.headers or {}))


async def _store_error(request: Request, exc: Exception) -> Response:
    return from_error(StoreUnavailable(exc))


async def _bug(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "BookIT failed to answer this request; it has been logged")


def _not_json(content_type: bytes, body: bytes) -> tuple[int, str, str] | None:
    """Why a request body cannot be read as JSON, before any route parses it: the type says
    something else (415), or it does not parse, nested past what a parser should follow (400)."""
    if not body.strip():
        return None
    media = content_type.split(b";")[0].strip().lower()
    if media and media != b"application/json" and not media.endswith(b"+json"):
        return 415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return 400, "malformed_json", "the request body is not valid JSON"
    return None


class _Gate:
    """Before any route: shut when no key is configured (503), refuse bodies over 64 KiB (413),
    and mark every answer private (never cached, never sniffed)."""

    HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]

    def __init__(self, app: ASGIApp, configured: bool) -> None:
        self.app = app
        self.configured = configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        if not self.configured:
            detail = "the API is not configured: set BOOKIT_API_SECRET or BOOKIT_API_PUBLIC_KEY"
            await _send_problem(private, 503, "api_not_configured", detail)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            await _send_problem(private, 413, "body_too_large", f"the request body is over {MAX_BODY} bytes")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await _send_problem(
                    private, 413, "body_too_large", f"the request body is over {MAX_BODY} bytes"
                )
                return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        refusal = _not_json(content_type, body)
        if refusal is not None:
            await _send_problem(private, *refusal)
            return
        if body.strip() and not content_type:
            # A JSON body sent without saying so is read as what it is.
            scope = dict(scope, headers=[*scope.get("headers", []), (b"content-type", b"application/json")])
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, private)


async def _send_problem(send: Send, status: int, code: str, detail: str) -> None:
    response = problem(status, code, detail)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
