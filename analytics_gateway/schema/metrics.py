"""GraphQL types for metric series."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.errors import BadUserInput
from analytics_gateway.resolvers import ml as ml_resolvers
from analytics_gateway.schema.ml import AnomalyReport, Forecast, Sensitivity
from analytics_gateway.schema.scalars import SeriesData

MAX_POINT_OBJECTS = 10_000


@strawberry.enum(description="How points are combined within each step bucket.")
class Aggregation(Enum):
    AVG = "avg"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    LAST = "last"
    P50 = "p50"
    P95 = "p95"
    P99 = "p99"
    RATE = "rate"


@strawberry.enum(description="Where metric series are read from.")
class MetricSource(Enum):
    STORE = strawberry.enum_value("store", description="The gateway's own metric store.")
    PROMETHEUS = strawberry.enum_value(
        "prometheus",
        description="The configured Prometheus (ANALYTICS_PROMETHEUS_URL), read-only and "
        "scoped to the caller's tenant label.",
    )


def to_datetime(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


@strawberry.type(description="One timestamped value.")
class Point:
    timestamp: datetime = strawberry.field(description="When the value was observed (UTC).")
    value: float = strawberry.field(description="The observed or aggregated value.")


@strawberry.type(description="Statistics over the points of a series in the queried range.")
class SeriesSummary:
    count: int = strawberry.field(
        description="Number of values in the series: its points, or its buckets when the "
        "query has a step or an aggregation."
    )
    min: float | None = strawberry.field(description="Smallest value; null when empty.")
    max: float | None = strawberry.field(description="Largest value; null when empty.")
    avg: float | None = strawberry.field(description="Mean value; null when empty.")
    last: float | None = strawberry.field(description="Most recent value; null when empty.")


@strawberry.type(description="A metric series: a name, its labels and its points.")
class Series:
    series: strawberry.Private[domain.Series]

    @strawberry.field(description="Metric (or event type) name.")
    def name(self) -> str:
        return self.series.name

    @strawberry.field(description="Labels identifying the series (or the groupBy labels).")
    def labels(self) -> JSON:
        return cast(JSON, self.series.labels)

    @strawberry.field(description="All points as columns; see the SeriesData scalar.")
    def data(self) -> SeriesData:
        timestamps, values = self.series.columns()
        return cast(SeriesData, {"t": timestamps, "v": values})

    @strawberry.field(
        description=(
            "Points as objects, for convenience: the most recent `limit` points, oldest "
            f"first (limit at most {MAX_POINT_OBJECTS}). Use `data` for bulk reads."
        )
    )
    def points(
        self,
        limit: Annotated[
            int, strawberry.argument(description="How many of the latest points to return.")
        ] = 1000,
    ) -> list[Point]:
        if limit < 0 or limit > MAX_POINT_OBJECTS:
            raise BadUserInput(f"limit must be between 0 and {MAX_POINT_OBJECTS}", field="limit")
        ts = self.series.timestamps[-limit:] if limit else []
        vs = self.series.values[-limit:] if limit else []
        return [Point(timestamp=to_datetime(t), value=v) for t, v in zip(ts, vs, strict=True)]

    @strawberry.field(description="Count, min, max, mean and last value of the series.")
    def summary(self) -> SeriesSummary:
        values = self.series.values
        if not values:
            return SeriesSummary(count=0, min=None, max=None, avg=None, last=None)
        return SeriesSummary(
            count=len(values),
            min=min(values),
            max=max(values),
            avg=sum(values) / len(values),
            last=values[-1],
        )

    @strawberry.field(
        description="Anomalies of this series as returned here (same shape as detectAnomalies); "
        "null with an error when detection fails."
    )
    async def anomalies(
        self,
        info: Info,
        detector: Annotated[
            str | None,
            strawberry.argument(description="Detector; default: the series' model, else ensemble."),
        ] = None,
        sensitivity: Annotated[
            Sensitivity | None,
            strawberry.argument(description="Threshold; default: the model's own, or MEDIUM."),
        ] = None,
    ) -> AnomalyReport | None:
        return await ml_resolvers.resolve_series_anomalies(info, self.series, detector, sensitivity)

    @strawberry.field(description="A forecast continuing this series as returned here.")
    async def forecast(
        self,
        info: Info,
        horizon: Annotated[
            str, strawberry.argument(description='How far ahead: a duration ("1d") or points.')
        ],
        confidence_interval: Annotated[
            float, strawberry.argument(description="Coverage of the prediction interval.")
        ] = 0.95,
        model: Annotated[
            str | None, strawberry.argument(description="Forecasting method; default auto.")
        ] = None,
    ) -> Forecast | None:
        return await ml_resolvers.resolve_series_forecast(
            info, self.series, horizon, confidence_interval, model
        )


@strawberry.type(description="A metric point as it was ingested, delivered live.")
class MetricPoint:
    name: str = strawberry.field(description="Metric name.")
    labels: JSON = strawberry.field(description="The point's labels.")
    timestamp: datetime = strawberry.field(description="Observation time (UTC).")
    value: float = strawberry.field(description="Observed value.")
    cursor: str | None = strawberry.field(
        default=None,
        description="Position in the live stream: pass it as `since` to resume right after "
        "this point.",
    )


@strawberry.input(
    name="MetricQuery",
    description="What to read: a metric, a label filter, a time range and a shape.",
)
class MetricQueryInput:
    name: str = strawberry.field(description="Metric name.")
    labels: JSON | None = strawberry.field(
        default=None, description='Exact-match label filter, e.g. {"host": "a"}.'
    )
    last: str | None = strawberry.field(
        default=None,
        description='Relative range ending now, e.g. "1h". Default 1h when no from/to.',
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Range start (inclusive)."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Range end (exclusive); default now."
    )
    step: str | None = strawberry.field(
        default=None,
        description='Bucket width, e.g. "1m". Absent: raw points (or one bucket when '
        "`aggregation` is given).",
    )
    aggregation: Aggregation | None = strawberry.field(
        default=None, description="How to combine points per bucket; default AVG with a step."
    )
    group_by: list[str] | None = strawberry.field(
        default=None,
        description="Combine series sharing these label values ([] merges all series).",
    )
    source: MetricSource = strawberry.field(
        default=MetricSource.STORE,
        description="Where to read: the gateway's store (default) or the configured "
        "Prometheus. With PROMETHEUS, LAST and percentiles cannot be combined with groupBy.",
    )
