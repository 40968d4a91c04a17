"""`BOOKIT_LOG_FORMAT=json`: one JSON object a line with the contract's fields; the default
stays readable text; no line holds an address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.observability import logs, tracing

SENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, list[str]]]:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield stream, []
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_carry_the_contract_s_fields_and_the_trace(driver: object, captured: tuple) -> None:
    stream, _ = captured
    logs.configure(stream=stream, fmt="json")
    with tracing.continued(tracing.parse(SENT)):
        driver.send(c.RegisterVenue, actor=SYSTEM, name="Main Hall", tz="Europe/London")  # type: ignore[attr-defined]
    records = [json.loads(line) for line in lines(stream)]
    assert records, "a command run under `bookit run` logs a line"
    line = next(r for r in records if r.get("command") == "RegisterVenue")
    fields = {"ts", "level", "msg", "logger", "command", "command_id", "outcome", "ms", "trace_id", "span_id"}
    assert fields <= set(line)
    assert (line["level"], line["logger"], line["outcome"]) == ("info", "bookit.commands", "ok")
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["ts"].endswith("Z") and isinstance(line["ms"], float)


def test_the_default_stays_readable_text(driver: object, captured: tuple) -> None:
    stream, _ = captured
    logs.configure(stream=stream, fmt=logs.log_format({}))
    driver.send(c.RegisterVenue, actor=SYSTEM, name="Main Hall", tz="Europe/London")  # type: ignore[attr-defined]
    (line,) = [x for x in lines(stream) if "RegisterVenue" in x]
    assert " INFO bookit.commands: RegisterVenue " in line and " ok in " in line and "trace_id=" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_rule_21_no_log_line_holds_an_address(captured: tuple) -> None:
    stream, _ = captured
    for fmt in logs.FORMATS:
        logs.configure(stream=stream, fmt=fmt)
        log = logging.getLogger("bookit.test")
        log.warning("mail to %s refused", "ann.o'neil+x@mail.example.co.uk")
        try:
            raise ValueError("bad address bob@example.com")
        except ValueError:
            log.exception("failed for %s", "carol@example.org")
        log.info("broker at amqp://guest:***@127.0.0.1:5672// and user@localhost stay")  # not addresses
    text = stream.getvalue()
    for address in ("ann.o'neil+x@mail.example.co.uk", "bob@example.com", "carol@example.org", "example"):
        assert address not in text
    assert text.count("<address>") >= 6
    assert "amqp://guest:***@127.0.0.1:5672//" in text


def test_an_unknown_log_format_is_named() -> None:
    with pytest.raises(ValueError, match="BOOKIT_LOG_FORMAT='xml'"):
        logs.log_format({"BOOKIT_LOG_FORMAT": "xml"})
