"""Root fields for self-monitoring, as a base of the root Mutation type."""

from __future__ import annotations

from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import health as resolvers
from analytics_gateway.schema.alerts import Alert


@strawberry.type(description="The gateway watching itself (the operator's tenant).")
class HealthMutation:
    @strawberry.mutation(
        description="Create the gateway's health alert rules in the operator's tenant "
        "(ANALYTICS_SELF_TENANT; needs an admin key of it): error rate above 5%, GraphQL "
        "p95 latency above 1 s, ingest buffer backlog growing, a host's CPU above 90% for "
        "10m, a host's memory above 90%, alert evaluation more than 30 s late. They read "
        "the metrics self-monitoring and `analytics-gateway agent` write. Idempotent: "
        "rules already there are kept as they are (and returned), except that `channels`, "
        "when given, replace their channels."
    )
    async def enable_health_alerts(
        self,
        info: Info,
        channels: Annotated[
            list[str] | None,
            strawberry.argument(description="Channel names to notify; they must exist."),
        ] = None,
    ) -> list[Alert]:
        return await resolvers.resolve_enable_health_alerts(info, channels)
