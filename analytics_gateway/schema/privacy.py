"""GraphQL types for personal data: erasure receipts and retention policies."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="How much one store deleted for an erasure.")
class StoreCount:
    store: str = strawberry.field(
        description="Which store: `events:duckdb` or `events:elasticsearch` (the events "
        "store), `live-history` (messages kept for subscription replay, dropped whole)."
    )
    deleted: int = strawberry.field(description="Events (or messages) deleted there.")


@strawberry.type(description="What `eraseUser` did, for the record.")
class ErasureReceipt:
    user_id: str = strawberry.field(description="The user erased, as the caller named them.")
    erased_at: datetime = strawberry.field(description="When the erasure finished (UTC).")
    counts: list[StoreCount] = strawberry.field(description="Deleted, per store.")
    audit_id: str | None = strawberry.field(
        description="The audit trail entry (action `erasure`) recording it, naming the "
        "user by the stored form of the id; null when the trail could not store it (the "
        "erasure happened all the same, and the failure is logged)."
    )


@strawberry.type(
    description="How long the tenant's data is kept; null: forever. Older data is deleted "
    "from every store by a background round."
)
class Retention:
    events: str | None = strawberry.field(description='Events, e.g. "90d".')
    metrics: str | None = strawberry.field(description='Metric points, e.g. "400d".')
