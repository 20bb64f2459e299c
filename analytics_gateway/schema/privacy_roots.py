"""Root fields for personal data: `eraseUser`, `setRetention` and `retention`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import privacy as resolvers
from analytics_gateway.schema.privacy import ErasureReceipt, Retention


@strawberry.type
class PrivacyQuery:
    @strawberry.field(description="The caller's tenant's retention policy.")
    async def retention(self, info: Info) -> Retention | None:
        return await resolvers.resolve_retention(info)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Erase one end user's events from the caller's tenant (admin): from the "
        "events store, the live history (a replay from before then must resync) and the "
        "query cache. With pseudonymised user ids, name the user by the original id."
    )
    async def erase_user(
        self,
        info: Info,
        user_id: Annotated[str, strawberry.argument(description="The user, as ingested.")],
    ) -> ErasureReceipt:
        return await resolvers.resolve_erase_user(info, user_id)

    @strawberry.mutation(
        description="Set how long the caller's tenant keeps events and metrics (admin), "
        "at least 1h each; null keeps them forever. Replaces the whole policy."
    )
    async def set_retention(
        self,
        info: Info,
        events: Annotated[
            str | None, strawberry.argument(description='Events\' retention, e.g. "90d".')
        ] = None,
        metrics: Annotated[
            str | None, strawberry.argument(description='Metrics\' retention, e.g. "400d".')
        ] = None,
    ) -> Retention:
        return await resolvers.resolve_set_retention(info, events, metrics)
