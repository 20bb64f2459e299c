"""The gateway's own metrics (on an injected registry) and JSON logs with correlation ids.

The middleware that sets the correlation id of each request is in `http.middleware`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from analytics_gateway import tracing
from analytics_gateway.errors import BackendUnavailable, GatewayError

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")


class GatewayMetrics:
    """Every metric the gateway exposes at `/metrics`, bound to one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # No label takes a value a client chooses (operation names, paths): that would
        # show one tenant's names to whoever scrapes, and grow without bound.
        self.requests = Counter(
            "gateway_graphql_requests",
            "GraphQL operations executed, by type.",
            ["operation_type"],
            registry=registry,
        )
        self.request_latency = Histogram(
            "gateway_graphql_request_seconds",
            "GraphQL operation latency.",
            ["operation_type"],
            registry=registry,
        )
        self.errors = Counter(
            "gateway_graphql_errors", "GraphQL errors by code.", ["code"], registry=registry
        )
        self.http_requests = Counter(
            "gateway_http_requests",
            "HTTP requests by route (the route's template; `other` when none matched) and status.",
            ["route", "status"],
            registry=registry,
        )
        self.ingested = Counter(
            "gateway_ingested", "Items accepted by ingest.", ["kind"], registry=registry
        )
        self.rejected = Counter(
            "gateway_rejected", "Items rejected by ingest.", ["kind"], registry=registry
        )
        self.active_subscriptions = Gauge(
            "gateway_active_subscriptions", "Live subscriptions in this process.", registry=registry
        )
        self.fanout_deliveries = Counter(
            "gateway_fanout_deliveries",
            "Broker messages handed to listeners in this process (subscriptions, live "
            "dashboards, alert wake-ups): only those each message concerns.",
            registry=registry,
        )
        self.dropped_messages = Counter(
            "gateway_subscription_dropped_messages",
            "Messages dropped for slow subscribers (oldest first).",
            registry=registry,
        )
        self.buffered = Counter(
            "gateway_buffered",
            "Items the store refused that went to the ingest buffer instead.",
            ["kind"],
            registry=registry,
        )
        self.buffer_drained = Counter(
            "gateway_buffer_drained",
            "Ingest buffer entries written to the store and acknowledged.",
            registry=registry,
        )
        self.publish_failures = Counter(
            "gateway_publish_failures",
            "Broker publishes that failed after the data was stored.",
            registry=registry,
        )


def client_error(error: GatewayError) -> tuple[str, dict[str, Any]]:
    """The message and extensions a client gets for `error`.

    A backend failure is logged here with its driver's words (hosts, ports,
    server replies) and the correlation id; the client gets the store's role,
    the kind of failure and the same correlation id.
    """
    extensions = error.as_extensions()
    if isinstance(error, BackendUnavailable):
        rid = correlation_id.get()
        logging.getLogger("analytics_gateway.errors").warning(
            "backend unavailable: %s", error.message, extra={"fields": {"backend_error": True}}
        )
        extensions["correlationId"] = rid
    return error.public_message(), extensions


class LiveScoringCollector(Collector):
    """Live anomaly scoring's counters, read from the scorer at each scrape, so the
    scorer itself knows nothing of Prometheus."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts  # (points scored, batches dropped)

    def collect(self) -> Iterator[CounterMetricFamily]:
        scored, dropped = self._counts()
        yield CounterMetricFamily(
            "gateway_ml_scored_points",
            "New points of modelled series scored by live anomaly detection.",
            value=scored,
        )
        yield CounterMetricFamily(
            "gateway_ml_dropped_batches",
            "Ingested batches live scoring skipped because its queue was full.",
            value=dropped,
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "correlation_id": correlation_id.get(),
        }
        trace_id = tracing.trace_id()
        if trace_id is not None:
            entry["trace_id"] = trace_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


# (what a match must contain, in lower case; the pattern; its replacement)
_SECRETS = [
    # user:password@ in any URL
    ("://", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@/\s]+@"), r"\1***@"),
    # tokens in query strings
    (
        "=",
        re.compile(
            r"(?i)([?&](?:token|access_token|key|api_key|apikey|password|p|secret|sig)=)"
            r"[^&\s\"']+"
        ),
        r"\1***",
    ),
    # Slack and similar incoming-webhook paths carry their secret in the path
    (
        "hooks.slack.com/",
        re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"']+"),
        r"\1***",
    ),
    # the gateway's own API keys
    ("agk_", re.compile(r"\b(agk_[0-9a-f]{12}_)[A-Za-z0-9_-]+"), r"\1***"),
]


def redact(text: str) -> str:
    """`text` without the secrets URLs and keys carry. Every log line passes here (an
    access line per request), so a pattern runs only where its mark is found."""
    lowered = text.lower()
    for mark, pattern, replacement in _SECRETS:
        if mark in lowered:
            text = pattern.sub(replacement, text)
            lowered = text.lower()
    return text


class PlainFormatter(logging.Formatter):
    """The standard text format, without secrets."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, json_logs: bool) -> None:
    """Only the CLI calls this: it touches the root logger."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # client libraries log every request's URL at INFO; those URLs may carry secrets
    for noisy in ("httpx", "httpcore", "elastic_transport"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
