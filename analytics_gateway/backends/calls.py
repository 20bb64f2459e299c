"""Round trips to the stores: `gateway_backend_calls_total{backend, operation}`.

One call is one DuckDB statement, or one HTTP request to InfluxDB,
Elasticsearch or Prometheus. The dataloaders promise one call per batch; this
counter shows it at `/metrics`, and the tests count calls on it.

Each call is also a CLIENT span when tracing is on (`call`), named for the
store and the operation, with `db.system` set; never with the statement, which
would quote what tenants sent.

Both labels take their values from the fixed sets below, never from a request,
so the number of series stays small whatever tenants send. Each store counts
on the `BackendCalls` it is given (the app's registry, through
`factory.build_backends`), or on a private registry of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Literal

from opentelemetry.trace import Span
from prometheus_client import CollectorRegistry, Counter, Gauge

from analytics_gateway import tracing
from analytics_gateway.backends.breaker import CircuitBreaker

Backend = Literal["duckdb", "influxdb", "elasticsearch", "prometheus"]
Operation = Literal[
    "write_points",  # metric points written
    "query_points",  # metric queries (a whole dataloader batch; a light one's count too)
    "metric_names",
    "label_values",
    "label_names",
    "series_count",  # matching series of a batch, for its cost, in a call of their own
    "write_events",
    "query_events",  # event pages
    "count_events",  # event counts (a whole dataloader batch)
    "events_in_range",  # a tenant's events in a range, for a behaviour read's cost
    "event_types",
    "setup",  # database or index template created
    "retention",  # expired events or points listed or deleted
    "delete_events",  # one user's events erased
    "ping",  # readiness probe
]

METRIC_NAME = "gateway_backend_calls_total"

OPERATIONS: Mapping[Backend, tuple[Operation, ...]] = {
    "duckdb": (
        "write_points",
        "query_points",
        "metric_names",
        "label_values",
        "label_names",
        "series_count",
        "write_events",
        "query_events",
        "count_events",
        "events_in_range",
        "event_types",
        "delete_events",
        "retention",
    ),
    "influxdb": (
        "write_points",
        "query_points",
        "metric_names",
        "label_values",
        "label_names",
        "series_count",
        "setup",
        "retention",
    ),
    "elasticsearch": (
        "write_events",
        "query_events",
        "count_events",
        "events_in_range",
        "event_types",
        "setup",
        "retention",
        "delete_events",
    ),
    "prometheus": ("query_points", "metric_names", "label_values", "ping"),
}


class BackendCalls:
    """The counter, on `registry` or, if none is given, on a private one."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._total = Counter(
            METRIC_NAME.removesuffix("_total"),
            "Calls to the stores (DuckDB statements, HTTP requests), by backend and operation.",
            ["backend", "operation"],
            registry=self.registry,
        )
        self._breaker_open = Gauge(
            "gateway_backend_breaker_open",
            "1 while the store's circuit breaker is open (calls fail at once), else 0.",
            ["backend"],
            registry=self.registry,
        )

    def breaker(self, backend: Backend) -> CircuitBreaker:
        """A circuit breaker for one store, its state exposed on the gauge."""
        gauge = self._breaker_open.labels(backend=backend)
        gauge.set(0)
        return CircuitBreaker(backend, gauge=gauge)

    def of(self, backend: Backend) -> CallCounter:
        """The calls of one backend; each of its operations is exposed (at 0) from now on."""
        return CallCounter(self._total, backend)


class CallCounter:
    """Counts one backend's calls by operation."""

    def __init__(self, total: Counter, backend: Backend) -> None:
        self._backend = backend
        self._children = {
            operation: total.labels(backend=backend, operation=operation)
            for operation in OPERATIONS[backend]
        }

    def call(self, operation: Operation) -> contextlib.AbstractContextManager[Span | None]:
        """Count one call, and trace it for the duration of a `with`."""
        self._children[operation].inc()
        return tracing.span(
            f"{self._backend} {operation}",
            {"db.system": self._backend, "db.operation.name": operation},
            kind=tracing.SpanKind.CLIENT,
        )
