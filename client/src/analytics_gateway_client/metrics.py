"""`MetricsCollector`: the brief's metric collection, and reading metrics and events back.

Writes need a key with the `ingest` scope (or `admin`); reads need `read`.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analytics_gateway_client._convert import labels_of, optional_enum
from analytics_gateway_client.generated.enums import Aggregation
from analytics_gateway_client.generated.input_types import (
    BusinessMetricsInput,
    EventFilter,
    EventInput,
    MetricPointInput,
    MetricQuery,
)
from analytics_gateway_client.results import EventPage, IngestResult, LiveEvent, MetricPoint, Series
from analytics_gateway_client.transport import Subscription, required

if TYPE_CHECKING:
    from analytics_gateway_client.client import AnalyticsClient

BUSINESS_FIELDS = {
    "revenue": "revenue",
    "active_users": "activeUsers",
    "conversion_rate": "conversionRate",
}
"""Business metrics with a field of their own (stored under the snake_case name)."""

EVENT_KEYS = {"event_type", "type", "user_id", "timestamp", "metadata", "tenant_id"}
"""Keys of a brief-style event dict that are not metadata."""


def sample_host() -> dict[str, float]:
    """This host's CPU, memory and root-disk use (percent) and network byte counters.

    Needs psutil (`pip install 'analytics-gateway-client[system]'`); blocks for 0.2 s
    to measure CPU use.
    """
    try:
        psutil: Any = importlib.import_module("psutil")
    except ImportError:
        raise RuntimeError(
            "sampling this host needs psutil: pip install 'analytics-gateway-client[system]', "
            "or pass the values to collect_system_metrics()"
        ) from None
    network = psutil.net_io_counters()
    return {
        "cpu_usage": float(psutil.cpu_percent(interval=0.2)),
        "memory_usage": float(psutil.virtual_memory().percent),
        "disk_usage": float(psutil.disk_usage("/").percent),
        "network_bytes_sent": float(network.bytes_sent),
        "network_bytes_received": float(network.bytes_recv),
    }


class MetricsCollector:
    """Collects system, application and business metrics for the key's tenant,
    reads them back, and streams them live."""

    def __init__(self, client: AnalyticsClient) -> None:
        self._client = client

    # -- the brief's collection ------------------------------------------------

    async def collect_system_metrics(
        self,
        metrics: Mapping[str, float] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> IngestResult:
        """Store host metrics as points, labelled `host=<this host's name>` unless
        `labels` name a host: the `metrics` given (name to value, e.g.
        `{"cpu_usage": 75.5, "memory_usage": 60.2}`), or, without any, this host's
        `cpu_usage`, `memory_usage`, `disk_usage` (percent), `network_bytes_sent`
        and `network_bytes_received` (counters) read with psutil."""
        values = dict(metrics) if metrics is not None else await asyncio.to_thread(sample_host)
        point_labels = {"host": socket.gethostname(), **(labels_of(labels) or {})}
        return await self.ingest(
            MetricPointInput(name=name, value=value, labels=point_labels, timestamp=timestamp)
            for name, value in values.items()
        )

    async def collect_app_metrics(
        self, event: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> IngestResult:
        """Record one application event, given as the brief does, as a dict or as keywords:
        `event_type` (or `type`), `user_id`, `timestamp`, `metadata`, and any other key
        (`song_id`, `duration`...) as metadata. A `tenant_id` must be the key's tenant.

            await collector.collect_app_metrics(
                event_type="song_play", user_id="u-42", song_id="s-1", duration=182
            )
        """
        values = {**(event or {}), **fields}
        await self._client.check_tenant(values.get("tenant_id"))
        return await self.record_events([event_input(values)])

    async def collect_business_metrics(
        self,
        metrics: Mapping[str, float] | None = None,
        /,
        *,
        labels: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
        **values: float,
    ) -> IngestResult:
        """Store business metrics observed at one moment, as a dict or as keywords:
        `revenue`, `active_users` and `conversion_rate`, and any other name (e.g.
        `churned=3`), each stored as a metric of that name.

            await collector.collect_business_metrics(revenue=1250.5, active_users=18200)
        """
        given = {**(metrics or {}), **values}
        own = {BUSINESS_FIELDS[k]: v for k, v in given.items() if k in BUSINESS_FIELDS}
        extra = {k: v for k, v in given.items() if k not in BUSINESS_FIELDS}
        business = BusinessMetricsInput.model_validate(
            {
                **own,
                "extra": extra or None,
                "labels": labels_of(labels),
                "timestamp": timestamp,
            }
        )
        answer = await self._client.call(self._client.graphql.record_business_metrics(business))
        return answer.record_business_metrics

    # -- general writes ----------------------------------------------------------

    async def ingest(self, points: Iterable[MetricPointInput | Mapping[str, Any]]) -> IngestResult:
        """Store metric points (`MetricPointInput`s or dicts with `name`, `value`,
        `labels`, `timestamp`). Valid points are stored; invalid ones are listed in
        `rejected` by index."""
        batch = [
            p if isinstance(p, MetricPointInput) else MetricPointInput.model_validate(p)
            for p in points
        ]
        answer = await self._client.call(self._client.graphql.ingest_metrics(batch))
        return answer.ingest_metrics

    async def record_events(self, events: Iterable[EventInput | Mapping[str, Any]]) -> IngestResult:
        """Store application events (`EventInput`s, or brief-style dicts as for
        `collect_app_metrics`)."""
        batch = [e if isinstance(e, EventInput) else event_input(e) for e in events]
        answer = await self._client.call(self._client.graphql.record_events(batch))
        return answer.record_events

    # -- reads ---------------------------------------------------------------------

    async def query(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        last: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        step: str | None = None,
        aggregation: Aggregation | str | None = None,
        group_by: Sequence[str] | None = None,
    ) -> list[Series]:
        """Series of metric `name` whose labels contain `labels`, over `last` (e.g.
        "1h", the default without `start`) or `start`..`end`; raw points, or one value
        per `step` bucket combined by `aggregation` (default AVG with a step), series
        merged by the `group_by` labels."""
        query = MetricQuery.model_validate(
            {
                "name": name,
                "labels": labels_of(labels),
                "last": last,
                "from": start,
                "to": end,
                "step": step,
                "aggregation": optional_enum(Aggregation, aggregation),
                "groupBy": list(group_by) if group_by is not None else None,
            }
        )
        answer = await self._client.call(self._client.graphql.metrics(query))
        return list(required(answer.metrics, "metrics"))

    async def names(self, prefix: str | None = None) -> list[str]:
        """Metric names stored for the tenant, optionally only those starting with `prefix`."""
        answer = await self._client.call(self._client.graphql.metric_names(prefix=prefix))
        return required(answer.metric_names, "metricNames")

    async def events(
        self,
        *,
        type: str | None = None,
        user_id: str | None = None,
        last: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> EventPage:
        """A page of events, newest first; pass `page_info.end_cursor` as `after` for the next."""
        event_filter = EventFilter.model_validate(
            {"type": type, "userId": user_id, "last": last, "from": start, "to": end}
        )
        answer = await self._client.call(
            self._client.graphql.events(event_filter, first=first, after=after)
        )
        return required(answer.events, "events")

    # -- live ------------------------------------------------------------------------

    def live_points(
        self, name: str, labels: Mapping[str, str] | None = None, *, since: str | None = None
    ) -> Subscription[MetricPoint]:
        """Every new point of metric `name` whose labels contain `labels`, as ingested;
        `since` (a point's `cursor`) first replays what came after it."""
        stream = self._client.graphql.metric_points(name, labels=labels_of(labels), since=since)
        return self._client.subscribe(stream, lambda message: message.metric_points)

    def live_events(
        self,
        type: str | None = None,
        *,
        since: str | None = None,
    ) -> Subscription[LiveEvent]:
        """Every new event (of `type` only, when given)."""
        stream = self._client.graphql.live_events(type_=type, since=since)
        return self._client.subscribe(stream, lambda message: message.live_events)


def event_input(values: Mapping[str, Any]) -> EventInput:
    """A brief-style event dict as an `EventInput`: keys other than event_type/type,
    user_id, timestamp, metadata and tenant_id become metadata."""
    event_type = values.get("event_type", values.get("type"))
    if not event_type:
        raise ValueError("an event needs an event_type (e.g. 'song_play')")
    metadata = {
        **dict(values.get("metadata") or {}),
        **{k: v for k, v in values.items() if k not in EVENT_KEYS},
    }
    return EventInput.model_validate(
        {
            "type": str(event_type),
            "userId": values.get("user_id"),
            "timestamp": values.get("timestamp"),
            "metadata": metadata or None,
        }
    )
