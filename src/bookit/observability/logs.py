"""Logging for every BookIT process: readable text by default, or `BOOKIT_LOG_FORMAT=json`.

JSON is one object a line on stderr: `ts`, `level`, `msg`, `logger`, and where known
`command`, `command_id`, `outcome`, `ms`, `code`, `route`, `status`, `trace_id`, `span_id`
(the trace is the one in force where the line was logged: tracing.py), and `error` with the
exception. uvicorn's own lines come through the same handler; the access log is BookIT's
(`bookit.http`, endpoints.py), which leaves out link tokens, query strings and client
addresses.

No line holds an email address: BookIT logs ids, not people, and as a last guard anything
shaped like an address is written `<address>`, in text and JSON alike.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any, TextIO

from bookit.observability import tracing

ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
FIELDS = ("command", "command_id", "outcome", "ms", "code", "http_method", "route", "status", "follower")
FORMATS = ("text", "json")
_MARK = "_bookit_handler"


def scrub(text: str) -> str:
    return ADDRESS.sub("<address>", text) if "@" in text else text


def log_format(env: dict[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get("BOOKIT_LOG_FORMAT", "text").strip().lower() or "text"
    if value not in FORMATS:
        raise ValueError(f"BOOKIT_LOG_FORMAT={value!r}: give text or json")
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _ts(record.created),
            "level": record.levelname.lower(),
            "msg": scrub(record.getMessage()),
            "logger": record.name,
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = scrub(value) if isinstance(value, str) else value
        _trace(line, record)
        if record.exc_info:
            line["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        found: dict[str, Any] = {}
        _trace(found, record)
        if "trace_id" in found and record.name.startswith("bookit."):
            text += f" trace_id={found['trace_id']}"
        return scrub(text)


def _trace(line: dict[str, Any], record: logging.LogRecord) -> None:
    context = getattr(record, "trace", None) or tracing.current()
    if context is not None:
        line["trace_id"] = context.trace_id
        line["span_id"] = context.span_id


def _ts(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def configure(level: int = logging.INFO, stream: TextIO | None = None, fmt: str | None = None) -> None:
    """One handler on the root logger, in the chosen format (set again: the old one replaced)."""
    fmt = fmt or log_format()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def say(text: str) -> None:
    """What a long-running process says once on stderr (where it serves, what it follows): a
    log line in JSON mode, so that every line of its stderr is one JSON object; text otherwise."""
    if log_format() == "json":
        logging.getLogger("bookit").info(text)
    else:
        print(scrub(text), file=sys.stderr, flush=True)
