"""Root fields of the audit trail, as a base of the root Query type."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import audit as resolvers
from analytics_gateway.schema.audit import AuditConnection


@strawberry.type(description="The audit trail of the caller's tenant (admin).")
class AuditQuery:
    @strawberry.field(
        description="The tenant's audit trail, newest first: every mutation, sign-ins "
        "(a credential's first use in an hour), erasures, key and quota changes made "
        "with the CLI, operators' reads of the tenant's metadata, exports of the trail, "
        "and (for the operator's tenant) summaries of refused credentials. Admin keys "
        "only, of the caller's tenant only."
    )
    async def audit_log(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 1000.")] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the last entry already seen.")
        ] = None,
        action: Annotated[
            str | None,
            strawberry.argument(description="Only this action, e.g. deleteAlert."),
        ] = None,
        actor: Annotated[
            str | None,
            strawberry.argument(description="Only this actor, e.g. key:0a1b2c3d4e5f."),
        ] = None,
        since: Annotated[
            datetime | None, strawberry.argument(description="Only entries from this time on.")
        ] = None,
    ) -> AuditConnection | None:
        return await resolvers.resolve_audit_log(info, first, after, action, actor, since)
