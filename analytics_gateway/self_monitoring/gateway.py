"""The gateway's own figures: read from what it already measures, as samples.

Requests, errors, latency and ingest come from the Prometheus objects the
gateway keeps anyway (`GatewayMetrics`, `AlertMetrics`), read as differences
since the previous sample: counters become rates, histograms become the
quantiles of what was observed in between (interpolated within buckets, as
PromQL's `histogram_quantile` does). Subscriptions, the buffer backlog and how
overdue alert rules are come from the live objects; GC, threads, CPU and memory
from the Python runtime and psutil; event-loop lag from a timer the collector
runs (`observe_loop_lag`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil  # type: ignore[import-untyped]
from prometheus_client import Counter, Gauge, Histogram

from analytics_gateway.alerting.service import AlertService
from analytics_gateway.errors import BackendUnavailable
from analytics_gateway.ingest_buffer import IngestBuffer
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.self_monitoring import series
from analytics_gateway.self_monitoring.host import Sample

log = logging.getLogger(__name__)

SERVER_ERROR_CODES = frozenset({"INTERNAL_SERVER_ERROR", "BACKEND_UNAVAILABLE", "REQUEST_TIMEOUT"})
"""GraphQL error codes that are the gateway's fault, not the client's."""
GRAPHQL_ROUTE = "/graphql"
LATENCY_OPERATIONS = frozenset({"query", "mutation"})
"""A subscription's observed "latency" is how long it stayed open: left out."""

Buckets = list[tuple[float, float]]
"""Cumulative counts per upper bound, ascending, +Inf last."""


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated linearly within its
    bucket as PromQL's `histogram_quantile` does (lowest bucket from 0; a rank in
    the +Inf bucket gives the highest finite bound). None when it holds nothing."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _samples(metric: Counter | Gauge | Histogram) -> Iterable[Any]:
    for family in metric.collect():
        yield from family.samples


def counter_totals(counter: Counter, *labels: str) -> dict[tuple[str, ...], float]:
    """A counter's totals by the values of `labels` (summed over the others)."""
    totals: dict[tuple[str, ...], float] = {}
    for sample in _samples(counter):
        if sample.name.endswith("_total"):
            key = tuple(sample.labels.get(label, "") for label in labels)
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def histogram_buckets(histogram: Histogram, keep: Callable[[Mapping[str, str]], bool]) -> Buckets:
    """A histogram's cumulative buckets, summed over the label sets `keep` accepts."""
    counts: dict[float, float] = {}
    for sample in _samples(histogram):
        if sample.name.endswith("_bucket") and keep(sample.labels):
            bound = float(sample.labels["le"])
            counts[bound] = counts.get(bound, 0.0) + sample.value
    return sorted(counts.items())


def gauge_value(gauge: Gauge) -> float:
    return float(sum(sample.value for sample in _samples(gauge)))


def _minus(now: Buckets, before: Buckets) -> Buckets:
    earlier = dict(before)
    return [(bound, max(0.0, count - earlier.get(bound, 0.0))) for bound, count in now]


def _rates(
    now: Mapping[tuple[str, ...], float], before: Mapping[tuple[str, ...], float], seconds: float
) -> dict[tuple[str, ...], float]:
    return {key: max(0.0, value - before.get(key, 0.0)) / seconds for key, value in now.items()}


@dataclass
class _Snapshot:
    at: float
    http: dict[tuple[str, ...], float]
    graphql_errors: dict[tuple[str, ...], float]
    ingested: dict[tuple[str, ...], float]
    latency: Buckets
    alert_lag: Buckets
    gc_collections: list[int]
    process_cpu: float


@dataclass
class _LoopLag:
    worst_seconds: float = 0.0
    observed: bool = False


class GatewaySampler:
    """Samples of this gateway process, labelled with `host` and `instance`."""

    def __init__(
        self,
        labels: Mapping[str, str],
        metrics: GatewayMetrics,
        alerts: AlertService,
        buffer: IngestBuffer | None,
        clock: Callable[[], int],
        *,
        backlog_timeout_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._labels = dict(labels)
        self._metrics = metrics
        self._alerts = alerts
        self._buffer = buffer
        self._clock = clock
        self._backlog_timeout = backlog_timeout_seconds
        self._monotonic = monotonic
        self._process = psutil.Process()
        self._previous: _Snapshot | None = None
        self._lag = _LoopLag()

    def observe_loop_lag(self, seconds: float) -> None:
        """How late one timer of the event loop fired; the worst of an interval is kept."""
        self._lag.worst_seconds = max(self._lag.worst_seconds, seconds)
        self._lag.observed = True

    def _snapshot(self) -> _Snapshot:
        cpu = self._process.cpu_times()
        return _Snapshot(
            at=self._monotonic(),
            http=counter_totals(self._metrics.http_requests, "route", "status"),
            graphql_errors=counter_totals(self._metrics.errors, "code"),
            ingested=counter_totals(self._metrics.ingested, "kind"),
            latency=histogram_buckets(
                self._metrics.request_latency,
                lambda labels: labels.get("operation_type") in LATENCY_OPERATIONS,
            ),
            alert_lag=histogram_buckets(self._alerts.metrics.lag, lambda labels: True),
            gc_collections=[int(generation["collections"]) for generation in gc.get_stats()],
            process_cpu=float(cpu.user + cpu.system),
        )

    def prime(self) -> None:
        """Take the counters that the first sample's rates are measured from."""
        self._previous = self._snapshot()

    async def sample(self) -> list[Sample]:
        now = self._snapshot()
        before, self._previous = self._previous, now
        out = await self._levels()
        if before is not None and now.at > before.at:
            out += self._rates(before, now, now.at - before.at)
        if self._lag.observed:
            out.append(self._sample(series.EVENT_LOOP_LAG, self._lag.worst_seconds * 1000))
        self._lag = _LoopLag()
        return out

    def _sample(self, name: str, value: float, **extra: str) -> Sample:
        return Sample(name, value, {**self._labels, **extra} if extra else self._labels)

    async def _levels(self) -> list[Sample]:
        """What holds now, without a previous sample."""
        out = [
            self._sample(series.SUBSCRIPTIONS, gauge_value(self._metrics.active_subscriptions)),
            self._sample(series.THREADS, float(self._process.num_threads())),
            self._sample(series.PROCESS_MEMORY, float(self._process.memory_info().rss)),
        ]
        backlog = await self._backlog()
        if backlog is not None:
            out.append(self._sample(series.BUFFER_ENTRIES, float(backlog[0])))
            out.append(self._sample(series.BUFFER_OLDEST, backlog[1]))
        return out

    async def _backlog(self) -> tuple[int, float] | None:
        """(entries, seconds the oldest waited): (0, 0) without a buffer, None when its
        Redis does not answer (no figure is better than a wrong one)."""
        if self._buffer is None:
            return 0, 0.0
        try:
            backlog = await asyncio.wait_for(self._buffer.backlog(), self._backlog_timeout)
        except (TimeoutError, BackendUnavailable) as exc:
            log.warning("self-monitoring: the ingest buffer's backlog is unknown: %s", exc)
            return None
        return backlog.entries, backlog.oldest_seconds

    def _overdue_seconds(self) -> float:
        """How late the most overdue rule this process evaluates is, now."""
        scheduler = self._alerts.scheduler
        now = self._clock()
        late = [
            now - runtime.next_due_ms
            for runtime in list(scheduler.rules.values())
            if runtime.rule.enabled and scheduler.ownership.owns(runtime.shard)
        ]
        return max([0, *late]) / 1000

    def _rates(self, before: _Snapshot, now: _Snapshot, seconds: float) -> list[Sample]:
        out: list[Sample] = []
        http = _rates(now.http, before.http, seconds)
        requests = sum(http.values())
        out.append(self._sample(series.REQUESTS, requests))
        errors: dict[str, float] = {}
        server_errors = 0.0
        for (route, status), rate in http.items():
            code = int(status) if status.isdigit() else 0
            # a GraphQL answer's errors are counted by their codes below
            if code >= 500 or (code >= 400 and route != GRAPHQL_ROUTE):
                errors[f"HTTP_{code}"] = errors.get(f"HTTP_{code}", 0.0) + rate
            if code >= 500:
                server_errors += rate
        for (code_name,), rate in _rates(
            now.graphql_errors, before.graphql_errors, seconds
        ).items():
            errors[code_name] = errors.get(code_name, 0.0) + rate
            if code_name in SERVER_ERROR_CODES:
                server_errors += rate
        # every code seen since the start, so a series drops back to 0 instead of ending
        for code_name, rate in sorted(errors.items()):
            out.append(self._sample(series.ERRORS, rate, code=code_name))
        ratio = server_errors / max(requests, server_errors) if server_errors else 0.0
        out.append(self._sample(series.ERROR_RATIO, ratio))
        latency = _minus(now.latency, before.latency)
        for name, q in ((series.LATENCY_P50, 0.5), (series.LATENCY_P95, 0.95)):
            value = quantile(q, latency)
            if value is not None:
                out.append(self._sample(name, value * 1000))
        for (kind,), rate in sorted(_rates(now.ingested, before.ingested, seconds).items()):
            out.append(self._sample(series.INGESTED, rate, kind=kind))
        lag = quantile(0.95, _minus(now.alert_lag, before.alert_lag)) or 0.0
        out.append(self._sample(series.ALERT_LAG, max(lag, self._overdue_seconds())))
        for generation, (was, is_) in enumerate(
            zip(before.gc_collections, now.gc_collections, strict=False)
        ):
            rate = max(0, is_ - was) / seconds
            out.append(self._sample(series.GC_COLLECTIONS, rate, generation=str(generation)))
        cpu = 100.0 * max(0.0, now.process_cpu - before.process_cpu) / seconds
        out.append(self._sample(series.PROCESS_CPU, cpu))
        return out
