"""API keys as the caller's tenant's admins see them: never a stored secret."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="An API key of the caller's tenant (its secret is never shown).")
class ApiKey:
    id: strawberry.ID = strawberry.field(description="The key's id: `agk_<id>_...`.")
    scopes: list[str] = strawberry.field(description="ingest, read, write, admin.")
    description: str = strawberry.field(description="The note given at creation.")
    created_at: datetime = strawberry.field(description="When it was created.")
    expires_at: datetime | None = strawberry.field(
        description="When it stops working (401 `key expired`); null: never."
    )
    last_used_at: datetime | None = strawberry.field(
        description="Its last use, kept to within about a minute; null: never used."
    )
    previous_secret_until: datetime | None = strawberry.field(
        description="Until when the secret its last rotation replaced still works."
    )
    revoked: bool = strawberry.field(description="Revoked keys never work again.")


@strawberry.type(description="A key and its secret, shown this once.")
class ApiKeySecret:
    api_key: ApiKey = strawberry.field(description="The key.")
    secret: str = strawberry.field(
        description="What to send as `Authorization: Bearer <secret>`; store it now."
    )
