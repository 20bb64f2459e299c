"""Root fields for the tenant's API keys (the admin scope), as bases of Query and Mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import keys as resolvers
from analytics_gateway.schema.keys import ApiKey, ApiKeySecret


@strawberry.type
class KeyQuery:
    @strawberry.field(
        description="The caller's tenant's API keys, oldest first (needs the admin scope)."
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        return await resolvers.resolve_api_keys(info)


@strawberry.type
class KeyMutation:
    @strawberry.mutation(
        description="Create an API key for the caller's tenant (admin); its secret is "
        "returned this once."
    )
    async def create_api_key(
        self,
        info: Info,
        scopes: Annotated[
            list[str], strawberry.argument(description="Any of ingest, read, write, admin.")
        ],
        description: Annotated[
            str, strawberry.argument(description="A note shown with the key.")
        ] = "",
        expires_in: Annotated[
            str | None,
            strawberry.argument(description='Stop working after this long, e.g. "90d".'),
        ] = None,
    ) -> ApiKeySecret:
        return await resolvers.resolve_create_api_key(info, scopes, description, expires_in)

    @strawberry.mutation(
        description="Give a key of the caller's tenant a new secret (admin); the old one "
        "keeps working for `grace`, so clients can switch over. A second rotation ends "
        "the first one's grace."
    )
    async def rotate_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")],
        grace: Annotated[
            str, strawberry.argument(description="How long the old secret still works.")
        ] = resolvers.DEFAULT_GRACE,
    ) -> ApiKeySecret:
        return await resolvers.resolve_rotate_api_key(info, str(id), grace)

    @strawberry.mutation(
        description="Revoke a key of the caller's tenant at once (admin), both secrets "
        "during a rotation; false if the tenant has no such key."
    )
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")],
    ) -> bool:
        return await resolvers.resolve_revoke_api_key(info, str(id))
