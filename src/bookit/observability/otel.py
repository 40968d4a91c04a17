"""The OpenTelemetry SDK, configured by its standard `OTEL_*` variables, or not at all.

`configure()` sets the SDK up only when spans have somewhere to go: `OTEL_TRACES_EXPORTER`
names exporters (`console`, `otlp`, ... as registered under the SDK's
`opentelemetry_traces_exporter` entry points; `otlp` needs `pip install bookit-core[otlp]`), or
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (then `otlp`).
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns it off. The resource comes from
`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, the sampler from `OTEL_TRACES_SAMPLER`, the
batching from `OTEL_BSP_*`: the SDK reads those itself. Otherwise `tracer` stays None and
tracing.py makes its own ids: no OpenTelemetry module is even imported.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from bookit.observability.tracing import TraceContext

log = logging.getLogger(__name__)

tracer: Any = None  # an SDK tracer once configure() found an exporter
_provider: Any = None


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """Which exporters the environment asks for ([] for none)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    return [n for n in names if n != "none"]


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Set up the SDK if the environment asks for an exporter; whether it did."""
    global tracer, _provider
    names = exporter_names(os.environ if env is None else env)
    if not names or tracer is not None:
        return tracer is not None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": _service_name()}))
    found = {e.name: e for e in entry_points(group="opentelemetry_traces_exporter")}
    for name in names:
        if name not in found:
            log.warning("OTEL_TRACES_EXPORTER names %r, which is not installed; no spans go there", name)
            continue
        exporter = found[name].load()()
        # The console exporter writes each span as it ends; the others batch (OTEL_BSP_*).
        processor = SimpleSpanProcessor if name == "console" else BatchSpanProcessor
        provider.add_span_processor(processor(exporter))
    _provider = provider
    tracer = provider.get_tracer("bookit")
    atexit.register(shutdown)
    return True


def _service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME", "bookit")


def shutdown() -> None:
    """Flush what is batched (at exit, and before a forked child starts over)."""
    global tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    tracer, _provider = None, None


@contextmanager
def sdk_span(
    name: str, parent: TraceContext | None, attributes: Mapping[str, Any] | None
) -> Iterator[TraceContext]:
    """An SDK span under `parent` (a new trace without one); its context in our form."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    context = None
    if parent is not None:
        remote = SpanContext(
            int(parent.trace_id, 16),
            int(parent.span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(parent.flags, 16)),
        )
        context = trace.set_span_in_context(NonRecordingSpan(remote))
    with tracer.start_as_current_span(name, context=context, attributes=dict(attributes or {})) as span:
        ids = span.get_span_context()
        yield TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", f"{int(ids.trace_flags):02x}")
