"""OpenTelemetry traces, configured only by the standard `OTEL_*` variables.

Off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_SDK_DISABLED` is not `true`.
Off means nearly free: `span()` hands back one shared no-op context manager,
without touching the OpenTelemetry context at all. On, the SDK reads the rest
of its settings itself: `OTEL_SERVICE_NAME` (default `analytics-gateway`),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `_ARG`, `OTEL_BSP_*`,
the exporter's headers, timeout and compression. Spans leave over OTLP/HTTP
(protobuf); `grpc` is refused with a clear error, as its exporter is not
installed.

Spans never carry what a tenant sent as values (GraphQL variables, label
values, statements with literals): names, types, counts and hashes only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

NAME = "analytics_gateway"
DEFAULT_SERVICE_NAME = "analytics-gateway"

_tracer: trace.Tracer | None = None  # None: tracing is off
_off = contextlib.nullcontext(None)


class TracingConfigError(ValueError):
    """The `OTEL_*` settings ask for something this gateway cannot do."""


def enabled() -> bool:
    return _tracer is not None


def install(provider: trace.TracerProvider) -> None:
    """Trace through `provider` from now on (the CLI from the environment, tests directly)."""
    global _tracer
    _tracer = provider.get_tracer(NAME)


def uninstall() -> None:
    global _tracer
    _tracer = None


def configure_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Install an OTLP/HTTP exporting provider when the environment asks for one."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    exporters = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if not endpoint or exporters == "none":
        return False
    if exporters != "otlp":
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={exporters!r}: this gateway exports traces over OTLP only"
        )
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol.strip().lower() != "http/protobuf":
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this gateway sends OTLP over HTTP "
            "(http/protobuf); point it at the collector's HTTP port (4318 by default)"
        )
    # imported only when on: the SDK and its exporter cost start-up time otherwise
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, Any] = {}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))  # sampler from env
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
) -> contextlib.AbstractContextManager[Span | None]:
    """A child of the current span for the duration of a `with`; nothing when off.

    An exception leaving the block marks the span as failed (with the
    exception's type, never its message, which may quote tenant data).
    """
    if _tracer is None:
        return _off
    parent = trace.get_current_span().get_span_context()
    if parent.is_valid and not parent.trace_flags.sampled:
        return _off  # a trace not sampled: its children would not be either
    return _recorded(_tracer, name, attributes, kind)


@contextlib.contextmanager
def _recorded(
    tracer: trace.Tracer, name: str, attributes: Mapping[str, Any] | None, kind: SpanKind
) -> Iterator[Span]:
    with tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            if current.is_recording() and not isinstance(exc, GeneratorExit):
                current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                current.set_attribute("error.type", type(exc).__name__)
            raise


def set_attribute(key: str, value: Any) -> None:
    """On the current span, if tracing is on and it records."""
    if _tracer is not None:
        current = trace.get_current_span()
        if current.is_recording():
            current.set_attribute(key, value)


def trace_id(*, sampled_only: bool = False) -> str | None:
    """The current trace's id as 32 hex digits, or None (off, or no trace; or, with
    `sampled_only`, a trace that is not recorded, which no exemplar should point to)."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or (sampled_only and not context.trace_flags.sampled):
        return None
    return trace.format_trace_id(context.trace_id)


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add `traceparent` (and `tracestate`) for the current span to outgoing `headers`."""
    if _tracer is not None:
        propagate.inject(headers)
    return headers


@contextlib.contextmanager
def continued(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context a caller sent (`traceparent`) the current one."""
    if _tracer is None:
        yield
        return
    token = otel_context.attach(propagate.extract(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


__all__ = [
    "SpanKind",
    "Status",
    "StatusCode",
    "TracingConfigError",
    "configure_from_environment",
    "continued",
    "enabled",
    "inject",
    "install",
    "set_attribute",
    "span",
    "trace_id",
    "uninstall",
]
