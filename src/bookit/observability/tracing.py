"""W3C trace context (`traceparent`) carried from the edge to every event and message out.

A door (HTTP, a bus message) hands the `traceparent` it was sent to `incoming`; the bus's
`handle` opens a `span` for the command under it (or starts a trace when there is none); the
store's mapper writes the current context into each event it stores (`TracingMapper`); the
event relay and the worker's replies send it on as a `traceparent` header (`header_of`).

Ids are made here, from `secrets`, unless the OpenTelemetry SDK is configured (otel.py): then
each span is a real SDK span, exported, and its ids are the ones carried. Without the SDK no
OpenTelemetry code runs at all, only a context variable and a few random bytes per span.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import CanSnapshotAggregate
from eventsourcing.persistence import Mapper, StoredEvent

HEADER = "traceparent"
_FORMAT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 lower-case hex digits, not all zero
    span_id: str  # 16 lower-case hex digits, not all zero
    flags: str = "01"  # sampled

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)


def parse(value: object) -> TraceContext | None:
    """The context a `traceparent` header names, or None for anything that is not one (W3C
    Trace Context level 1: version ff and all-zero ids are invalid; a later version's extra
    fields are ignored)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or len(value) > 512:
        return None
    found = _FORMAT.match(value.strip().lower())
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None
    return TraceContext(trace_id, span_id, flags)


def new_trace() -> TraceContext:
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8))


_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("bookit_trace", default=None)


def current() -> TraceContext | None:
    return _current.get()


def current_header() -> str | None:
    context = _current.get()
    return None if context is None else context.header


@contextmanager
def continued(context: TraceContext | None) -> Iterator[TraceContext | None]:
    """Run under `context` (as it is: no new span), e.g. an event's stored trace."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | None = None, root: bool = False
) -> Iterator[TraceContext]:
    """A span named `name` under the current context (a new trace if there is none, or if
    `root`); exported when the SDK is configured."""
    from bookit.observability import otel

    parent = None if root else _current.get()
    if otel.tracer is None:
        with continued(parent.child() if parent is not None else new_trace()) as context:
            assert context is not None
            yield context
        return
    with otel.sdk_span(name, parent, attributes) as made, continued(made):
        yield made


@contextmanager
def incoming(
    headers: Mapping[Any, Any] | None, name: str, attributes: Mapping[str, Any] | None = None
) -> Iterator[TraceContext]:
    """A span for work that arrived with `headers` (an HTTP request's, a bus message's): a
    child of the `traceparent` among them, or the start of a new trace."""
    sent = parse(_header_in(headers)) if headers else None
    with continued(sent), span(name, attributes, root=sent is None) as context:
        yield context


def _header_in(headers: Mapping[Any, Any]) -> object:
    return headers.get(HEADER)


def header_of(event: Any) -> dict[str, str]:
    """The headers to send with an event out: its stored `traceparent`, if it has one."""
    value = getattr(event, HEADER, None)
    return {HEADER: value} if isinstance(value, str) else {}


def reply_headers(message: Any) -> dict[str, str]:
    """The headers of the reply to a bus message: the trace its command ran in (set on the
    message by batching.run_batch)."""
    header = getattr(message, "traceparent", None)
    return {} if header is None else {HEADER: header}


def current_headers() -> dict[str, str]:
    header = current_header()
    return {} if header is None else {HEADER: header}


class TracingMapper(Mapper[Any]):
    """The library's mapper, writing the current trace context into every event it stores
    (never into a snapshot, and never over a context an event already has). Chosen through
    eventsourcing's own `MAPPER_TOPIC` setting (stores.py). Old events have no such key and
    read as before; the key is metadata beside `actor` and `command_id`, which no aggregate
    applies."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        header = current_header()
        if (
            header is not None
            and HEADER not in vars(domain_event)
            and not isinstance(domain_event, CanSnapshotAggregate)
        ):
            object.__setattr__(domain_event, HEADER, header)  # a frozen event: set once, before storing
        return super().to_stored_event(domain_event)


MAPPER_TOPIC = f"{__name__}:TracingMapper"
