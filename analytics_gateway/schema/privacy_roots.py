"""Root fields for personal data: `eraseUser`, `setRetention`, `retention`,
`setSensitiveKeys` and `sensitiveKeys`."""

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

    @strawberry.field(
        description="The caller's tenant's sensitive event metadata keys: their values are "
        "encrypted at rest, and cannot be grouped or filtered on."
    )
    async def sensitive_keys(self, info: Info) -> list[str] | None:
        return await resolvers.resolve_sensitive_keys(info)


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

    @strawberry.mutation(
        description="Mark event metadata keys of the caller's tenant sensitive (admin), at "
        "most 50; replaces the list, an empty one marks none. Their values in events ingested "
        "from then on are encrypted (AES-256-GCM) before any store or live history holds "
        "them, and read back in plaintext by the tenant only; events ingested before stay as "
        "they were. Sensitive keys cannot be grouped or filtered on."
    )
    async def set_sensitive_keys(
        self,
        info: Info,
        keys: Annotated[
            list[str], strawberry.argument(description='Metadata key names, e.g. ["email"].')
        ],
    ) -> list[str]:
        return await resolvers.resolve_set_sensitive_keys(info, keys)
