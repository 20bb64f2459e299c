"""GraphQL types of the audit trail: entries, and their Relay-style connection."""

from __future__ import annotations

from datetime import datetime

import strawberry

from analytics_gateway.schema.events import PageInfo


@strawberry.type(
    description="One security-relevant act in the tenant's audit trail. Entries form a "
    "hash chain: `hash` is the SHA-256 of the entry's canonical form, which includes "
    "`prev`, the hash of the entry before it (`analytics-gateway audit verify` walks it)."
)
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="The entry's id in the store.")
    time: datetime = strawberry.field(description="When it happened (UTC).")
    actor: str = strawberry.field(
        description="Who acted: `key:<key id>`, `jwt:<subject>`, or for refused "
        "credentials `source:<client address>`."
    )
    tenant: str = strawberry.field(description="The tenant the act concerned.")
    action: str = strawberry.field(
        description="What was done: the mutation's field name (e.g. deleteAlert), "
        "refusedCredentials, or exportAuditLog."
    )
    target: str | None = strawberry.field(
        description="The id the act concerned (the mutation's id argument), if any."
    )
    request_id: str = strawberry.field(description="The request's X-Request-ID.")
    outcome: str = strawberry.field(description="`ok`, or the error's `extensions.code`.")
    count: int = strawberry.field(
        description="How many acts the entry stands for: above 1 for the per-minute "
        "summaries of refused credentials."
    )
    prev: str = strawberry.field(description="The hash of the entry before it in the chain.")
    hash: str = strawberry.field(description="SHA-256 of this entry, `prev` included.")


@strawberry.type(description="An audit entry and the cursor that points at it.")
class AuditEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this entry.")
    node: AuditEntry = strawberry.field(description="The entry.")


@strawberry.type(
    description="A page of audit entries, newest first. With filters a page may hold "
    "fewer than `first` entries (a page reads a bounded part of the trail): continue "
    "while `pageInfo.hasNextPage`."
)
class AuditConnection:
    edges: list[AuditEdge] = strawberry.field(description="Entries on this page with cursors.")
    page_info: PageInfo = strawberry.field(description="Whether and where to continue.")

    @strawberry.field(description="The entries on this page, without cursors.")
    def nodes(self) -> list[AuditEntry]:
        return [edge.node for edge in self.edges]
