"""GraphQL inputs and results for writes."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="One metric point to store.")
class MetricPointInput:
    name: str = strawberry.field(description="Metric name, e.g. cpu_usage.")
    value: float = strawberry.field(description="A finite number.")
    labels: JSON | None = strawberry.field(
        default=None, description='Label name to string value, e.g. {"host": "a"}.'
    )
    timestamp: datetime | None = strawberry.field(
        default=None, description="Observation time; default now."
    )


@strawberry.input(description="One application event to store.")
class EventInput:
    type: str = strawberry.field(description="Event type, e.g. song_play.")
    user_id: str | None = strawberry.field(default=None, description="The end user.")
    timestamp: datetime | None = strawberry.field(default=None, description="Default now.")
    metadata: JSON | None = strawberry.field(
        default=None, description='Details, e.g. {"song_id": "s1", "duration": 180}.'
    )


@strawberry.input(description="Business metrics observed at one moment, stored as metric points.")
class BusinessMetricsInput:
    revenue: float | None = strawberry.field(default=None, description="Stored as `revenue`.")
    active_users: float | None = strawberry.field(
        default=None, description="Stored as `active_users`."
    )
    conversion_rate: float | None = strawberry.field(
        default=None, description="Stored as `conversion_rate`."
    )
    extra: JSON | None = strawberry.field(
        default=None, description='More metrics: name to number, e.g. {"churned": 3}.'
    )
    labels: JSON | None = strawberry.field(default=None, description="Labels for every point.")
    timestamp: datetime | None = strawberry.field(default=None, description="Default now.")


@strawberry.type(description="Why one item of a batch was refused.")
class IngestRejection:
    index: int = strawberry.field(description="0-based position of the item in the batch.")
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(description="What a write stored and what it refused.")
class IngestResult:
    accepted: int = strawberry.field(description="Number of items stored.")
    rejected: list[IngestRejection] = strawberry.field(description="Items refused, by index.")
