"""W3C trace context: what BookIT accepts as a `traceparent`, and how it is carried on (the
kombu header propagation is ours: OpenTelemetry has no kombu instrumentation)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bookit.observability import tracing
from bookit.observability.tracing import TraceContext

SENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_read_as_sent() -> None:
    context = tracing.parse(SENT)
    assert context == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    assert context.header == SENT
    assert tracing.parse(SENT.upper().encode()) == context  # AMQP headers may arrive as bytes


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not a header",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has 4 fields
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
        "00-" + "a" * 600,
        None,
        42,
    ],
)
def test_anything_else_is_no_trace_context(value: object) -> None:
    assert tracing.parse(value) is None


def test_a_later_version_s_extra_fields_are_ignored() -> None:
    context = tracing.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes")
    assert context is not None and context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_incoming_work_continues_the_sent_trace_in_a_span_of_its_own() -> None:
    with tracing.incoming({"traceparent": SENT}, "bus message") as context:
        assert context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert context.span_id != "00f067aa0ba902b7"
        with tracing.span("command") as inner:
            assert inner.trace_id == context.trace_id and inner.span_id != context.span_id
            assert tracing.current_headers() == {"traceparent": inner.header}
        assert tracing.current() == context
    assert tracing.current() is None


def test_incoming_work_without_a_trace_starts_one_and_a_bad_header_is_not_trusted() -> None:
    for headers in (None, {}, {"traceparent": "garbage"}):
        with tracing.incoming(headers, "bus message") as context:
            assert len(context.trace_id) == 32 and set(context.trace_id) != {"0"}
    with tracing.incoming({}, "a") as first, tracing.incoming({}, "b") as second:
        assert first.trace_id != second.trace_id


def test_an_event_out_carries_the_trace_its_event_was_stored_with() -> None:
    assert tracing.header_of(SimpleNamespace(traceparent=SENT)) == {"traceparent": SENT}
    assert tracing.header_of(SimpleNamespace()) == {}  # an event stored before traces: no header


def test_the_mapper_writes_the_trace_into_an_event_and_never_over_one(service: object) -> None:
    from bookit import commands as c
    from bookit.aggregates.base import SYSTEM

    app = service.app  # type: ignore[attr-defined]
    with tracing.continued(tracing.parse(SENT)):
        service.bus.handle(c.build(c.RegisterVenue, actor=SYSTEM, name="Hall", tz="UTC"))  # type: ignore[attr-defined]
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=100)]
    assert events
    for event in events:
        stored = tracing.parse(event.traceparent)
        assert stored is not None and stored.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert stored.span_id != "00f067aa0ba902b7"  # the command's own span, under the request's
    # An event that already has a trace keeps it when it is mapped again.
    with tracing.continued(tracing.new_trace()):
        again = app.mapper.to_domain_event(app.mapper.to_stored_event(events[0]))
    assert again.traceparent == events[0].traceparent


def test_without_an_exporter_configured_no_opentelemetry_code_runs(tmp_path: object) -> None:
    import subprocess
    import sys

    script = (
        "import sys, tempfile\n"
        "from bookit.observability import otel\n"
        "from bookit.bootstrap import bootstrap\n"
        "from bookit import commands as c\n"
        "assert otel.configure() is False\n"
        "s = bootstrap(tempfile.mkdtemp())\n"
        "s.bus.handle(c.build(c.RegisterVenue, actor='system', name='Hall', tz='UTC'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_environment_names_the_exporters() -> None:
    from bookit.observability.otel import exporter_names

    assert exporter_names({}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console,otlp"}) == ["console", "otlp"]
    assert exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == ["otlp"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}) == []
