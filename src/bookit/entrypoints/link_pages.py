"""The email links' web pages: `GET /l/<token>` says what the button will do, `POST` does it;
and the public venue page the "Book again" buttons lead to, `GET /venues/<id>` (venue_page.py).

The signed token is the capability: no login, no cookie, so nothing for a cross-site form to
ride on. GET only reads (mail scanners and link previews follow links); POST turns the link into
exactly the command the CLI sends, through the same bus, so every rule, refusal and event is the
same. The token names no person (see links.py): the actor is the owner the record names, the
booking's or the waitlist entry's, so a link can only ever do its owner's own action. Its
command_id is derived from the link, so a double click or a replayed POST has one effect and
gets the first outcome back.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import uvicorn
from eventsourcing.application import AggregateNotFoundError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookit import commands as c
from bookit.aggregates import waitlist
from bookit.aggregates.base import SYSTEM, derived_id
from bookit.aggregates.booking import Booking
from bookit.aggregates.venue import Venue
from bookit.bootstrap import Service
from bookit.entrypoints.link_words import NO_PAGE, Subject, done, explain, render, truth
from bookit.entrypoints.venue_page import venue_page
from bookit.errors import BadInput, BookitError, NotFound
from bookit.links import Link, LinkSigner
from bookit.observability.endpoints import Operations
from bookit.observability.health import Readiness
from bookit.projections import queries

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COMMANDS: dict[str, tuple[type[c.Command], str]] = {
    "confirm": (c.ConfirmBooking, "booking_id"),
    "cancel": (c.CancelBooking, "booking_id"),
    "claim": (c.ClaimOffer, "entry_id"),
    "decline": (c.DeclineOffer, "entry_id"),
    "check-in": (c.CheckIn, "booking_id"),
}


def http_address(env: dict[str, str] | None = None) -> tuple[str, int]:
    """Where `bookit run` serves the links: BOOKIT_HTTP_HOST / BOOKIT_HTTP_PORT."""
    env = dict(os.environ if env is None else env)
    return env.get("BOOKIT_HTTP_HOST", "127.0.0.1"), int(env.get("BOOKIT_HTTP_PORT", "8080"))


def link_command_id(signer: LinkSigner, link: Link) -> UUID:
    # From the re-signed (canonical) token: base64 tolerates variant spellings of the same bytes.
    return derived_id("link", signer.token(link))


def make_web_app(service: Service, clock: Callable[[], datetime]) -> ASGIApp:
    """The links app. Its commands go through the service's bus, which runs one at a time."""
    pages = _Pages(service, clock)
    routes = [
        Route("/l/{token}", pages.endpoint, methods=["GET", "POST"]),
        Route("/venues/{venue_id}", pages.venue, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_PrivateHeaders)],
        exception_handlers={404: pages.not_found, 405: pages.not_found},
    )


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound: a port in use raises OSError here, before anything runs."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response written in two parts waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # from now on nobody else can take the port
    except OSError:
        sock.close()
        raise
    return sock


def serve_links(
    service: Service,
    host: str,
    port: int,
    stop: threading.Event,
    api: ASGIApp | None = None,
    sock: socket.socket | None = None,
    bus_url: str = "local",
) -> None:
    """Serve the links (and the HTTP API under /api, if given) in this thread until `stop` is
    set, on `sock` if given (bound by `listen`), behind /livez, /readyz and /metrics. A port in
    use raises OSError here."""
    sock = sock or listen(host, port)
    app = make_web_app(service, service.bus.clock)
    if api is not None:
        app = _ApiBeside(api, app)
    app = Operations(app, Readiness(service, bus_url))
    # Not uvicorn's access log: the URLs are capabilities and must not end up in log files;
    # Operations logs each request by its route instead.
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)
    server = uvicorn.Server(config)

    def stop_when_asked() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=stop_when_asked, name="links-stop", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class _Pages:
    def __init__(self, service: Service, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.signer = service.links
        self.clock = clock

    async def endpoint(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            return await run_in_threadpool(self.act, token, request.url.path)
        return await run_in_threadpool(self.show, token, request.url.path)

    async def venue(self, request: Request) -> Response:
        venue_id, asked = request.path_params["venue_id"], request.query_params.get("date")
        return await run_in_threadpool(venue_page, self.service.engine, self.clock, venue_id, asked)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return render("result.html.j2", 404, tone="error", heading="Page not found", lines=[NO_PAGE])

    def show(self, token: str, path: str) -> Response:
        try:
            link = self.signer.read(token, self.clock())
            subject = self.subject(link)
        except BookitError as error:
            return self.refused(token, error)
        earlier = self.service.app.outcome_of(link_command_id(self.signer, link))
        if earlier is not None:
            heading, lines = done(link, subject, earlier)
            lines.append("You already used this link; it will not do it again.")
            return render("result.html.j2", 200, tone="ok", heading=heading, lines=lines, subject=subject)
        now = self.clock()
        said = truth(link.action, subject, now)
        if said is not None:
            # What is true now, and no button: the action could no longer succeed.
            heading, sentence = said
            return render(
                "result.html.j2", 200, tone="sorry", heading=heading, lines=[sentence], subject=subject
            )
        seconds_left = None
        if link.action in ("claim", "decline") and subject.deadline is not None:
            seconds_left = max(0, int((subject.deadline - now).total_seconds()))
        return render(
            "action.html.j2",
            200,
            action=link.action,
            subject=subject,
            path=path,
            seconds_left=seconds_left,
            can_act=True,
        )

    def act(self, token: str, path: str) -> Response:
        try:
            link = self.signer.read(token, self.clock())
            # The token names nobody: it acts for whoever the record says it belongs to.
            owner = self.subject(link).owner
            if owner == SYSTEM:
                raise BadInput("this link is not valid", "bad_link")
            cls, field = _COMMANDS[link.action]
            command = c.build(
                cls,
                command_id=link_command_id(self.signer, link),
                actor=owner,
                **{field: link.subject_id},
            )
            outcome = self.service.bus.handle(command)
            subject = self.subject(link)
        except BookitError as error:
            return self.refused(token, error)
        heading, lines = done(link, subject, outcome)
        return render("result.html.j2", 200, tone="ok", heading=heading, lines=lines, subject=subject)

    def subject(self, link: Link) -> Subject:
        app = self.service.app
        try:
            ident = UUID(link.subject_id)
        except ValueError:
            raise BadInput("this link is not valid", "bad_link") from None
        if link.action in ("confirm", "cancel", "check-in"):
            booking: Booking = app.booking(ident)
            venue = self._venue(booking.venue_id)
            return Subject(
                booking.user,
                venue.name,
                venue.tz,
                booking.date,
                booking.start,
                booking.end,
                booking.status,
                starts_at=booking.starts_at,
                cancel_due=booking.cancel_due,
                check_in_until=booking.check_in_until,
                checked_in=booking.checked_in_at is not None,
                no_strike=bool(booking.no_strike),
            )
        try:
            ticket: Any = app.repository.get(ident)
        except AggregateNotFoundError:
            raise NotFound("waitlist entry", ident) from None
        if not isinstance(ticket, waitlist.WaitlistTicket):
            raise NotFound("waitlist entry", ident)
        slot = app.waitlist_slot(UUID(ticket.slot_id))
        venue = self._venue(slot.venue_id)
        entry = slot.entries.get(link.subject_id)
        if entry is None:
            # Out of the queue, so the slot no longer keeps it: how it ended is in the read model.
            row = queries.waitlist_entry(self.service.engine, link.subject_id)
            status = row["status"] if row is not None else "out of the queue"
            # Its offer, if it had one, ended when this link did.
            return Subject(
                ticket.user, venue.name, venue.tz, slot.date, slot.start, slot.end, status, link.expires_at
            )
        return Subject(
            entry.user,
            venue.name,
            venue.tz,
            slot.date,
            slot.start,
            slot.end,
            entry.status,
            entry.deadline,
            position=slot.position(link.subject_id),
            taken=entry.status == waitlist.WAITING and self._told_taken(entry.user, link.subject_id),
        )

    def _told_taken(self, user: str, entry_id: str) -> bool:
        """Back in line because someone offered the same freeing claimed it first (its email says so)."""
        sent = queries.outbox(self.service.engine, to=user)
        return any(row["kind"] == "waitlist-taken" and row["subject_id"] == entry_id for row in sent)

    def _venue(self, venue_id: str) -> Venue:
        venue: Any = self.service.app.repository.get(Venue.id_for(venue_id))
        assert isinstance(venue, Venue)
        return venue

    def refused(self, token: str, error: BookitError) -> Response:
        """A refusal in a person's words; the details come along only for a genuine link."""
        link, subject = self._genuine(token)
        status, heading, sentence = explain(error, link, subject, self.clock())
        tone = "error" if isinstance(error, BadInput) else "sorry"
        return render("result.html.j2", status, tone=tone, heading=heading, lines=[sentence])

    def _genuine(self, token: str) -> tuple[Link | None, Subject | None]:
        try:
            link = self.signer.read(token, _EPOCH)  # signature checked, expiry not
            return link, self.subject(link)
        except BookitError:
            return None, None


class _ApiBeside:
    """Requests under /api go to the HTTP API, the rest to the link pages: one server, one port."""

    def __init__(self, api: ASGIApp, links: ASGIApp) -> None:
        self.api = api
        self.links = links

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        to_api = scope["type"] == "http" and (path == "/api" or path.startswith("/api/"))
        await (self.api if to_api else self.links)(scope, receive, send)


class _PrivateHeaders:
    """Every response: never cached, never indexed, never leaks the token in a Referer."""

    HEADERS = [
        (b"cache-control", b"no-store"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-robots-tag", b"noindex, nofollow"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self.HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)
