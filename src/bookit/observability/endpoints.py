"""`/livez`, `/readyz` and `/metrics` in front of whatever `bookit run` serves, and the access
log, and the HTTP request's span.

`/livez` answers 200 as long as this process serves requests, and checks nothing else: a store
or broker that is away is readiness's business, and restarting the process would not bring
them back. `/readyz` is 200 with the checks as JSON, or 503 with a problem+json document that
names each failing check. The store is asked in a worker thread, never on the event loop, so a
store that hangs cannot stop `/livez` from answering.

The access log (logger `bookit.http`) gives the method, the route (`/l/{token}` for a link:
its token is a capability), the status and the milliseconds; never the query string (it can
hold an address) nor the client's address.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookit.observability import metrics, tracing
from bookit.observability.health import Check, Readiness, Report

log = logging.getLogger("bookit.http")

OPERATIONS = ("/livez", "/readyz", "/metrics")
CHECK_TIMEOUT = 5.0


class Operations:
    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app = app
        self.readiness = readiness
        self._checking: asyncio.Future[Report] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in OPERATIONS:
            await self._operation(path, send)
            return
        started = time.perf_counter()
        status = 500
        headers = {k.decode("latin-1"): v for k, v in scope.get("headers", ()) if k == b"traceparent"}

        async def recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"traceparent", str(tracing.current_header()).encode()),
                ]
            await send(message)

        route = route_of(path)
        with tracing.incoming(headers, "HTTP " + scope.get("method", "GET"), {"http.route": route}):
            try:
                await self.app(scope, receive, recorded)
            finally:
                ms = (time.perf_counter() - started) * 1000
                log.info(
                    "%s %s %d %.1f ms",
                    scope.get("method"),
                    route,
                    status,
                    ms,
                    extra={
                        "http_method": scope.get("method"),
                        "route": route,
                        "status": status,
                        "ms": round(ms, 2),
                    },
                )

    async def _operation(self, path: str, send: Send) -> None:
        if path == "/livez":
            await _answer(send, 200, b"application/json", b'{"live": true}')
        elif path == "/metrics":
            report = await self._report()
            exposition = await run_in_threadpool(metrics.exposition, metrics.StoreFigures(lambda: report))
            await _answer(send, 200, metrics.CONTENT_TYPE.encode(), exposition)
        else:
            report = await self._report()
            body = report.as_json()
            if report.ready:
                await _answer(send, 200, b"application/json", _json(body))
                return
            failing = report.failing
            body |= {
                "type": "urn:bookit:problem:not_ready",
                "title": "Not ready",
                "status": 503,
                "detail": "; ".join(f"{c.name}: {c.detail}" for c in failing),
                "code": "not_ready",
                "failing": [c.name for c in failing],
            }
            await _answer(send, 503, b"application/problem+json", _json(body))

    async def _report(self) -> Report:
        """The checks, in a worker thread, one at a time however many probes ask: a store that
        hangs (no answer rather than a refusal) fails them after CHECK_TIMEOUT seconds."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(run_in_threadpool(self.readiness.check))
        try:
            return await asyncio.wait_for(asyncio.shield(self._checking), CHECK_TIMEOUT)
        except TimeoutError:
            return Report([Check("store", False, f"the store gave no answer within {CHECK_TIMEOUT:g}s")])


def route_of(path: str) -> str:
    """The path as logged: a link's token left out."""
    if path.startswith("/l/"):
        return "/l/{token}"
    return path[:200]


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, default=str).encode()


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
