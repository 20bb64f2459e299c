"""Resolvers of the audit trail: admin keys read their own tenant's entries only."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from analytics_gateway import audit
from analytics_gateway.audit.trail import entry_id as checked_id
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.schema.audit import AuditConnection, AuditEdge, AuditEntry
from analytics_gateway.schema.events import PageInfo
from analytics_gateway.schema.metrics import to_datetime

MAX_PAGE = 1000


def encode_cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"audit:{entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        kind, _, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        kind, entry_id = "", ""
    if kind != "audit":
        raise BadUserInput("after: not a cursor returned by this API", field="after")
    return checked_id(entry_id)


def to_entry(entry: audit.AuditEntry) -> AuditEntry:
    return AuditEntry(
        id=entry.id,  # type: ignore[arg-type]
        time=to_datetime(entry.time_ms),
        actor=entry.actor,
        tenant=entry.tenant,
        action=entry.action,
        target=entry.target or None,
        request_id=entry.request_id,
        outcome=entry.outcome,
        count=entry.count,
        prev=entry.prev,
        hash=entry.hash,
    )


async def resolve_audit_log(
    info: Info,
    first: int,
    after: str | None,
    action: str | None,
    actor: str | None,
    since: datetime | None,
) -> AuditConnection:
    principal = info.context.require(Scope.ADMIN)
    if first < 1 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    page = await info.context.services.audit.page(
        principal.tenant,
        first=first,
        after=decode_cursor(after) if after else None,
        action=action,
        actor=actor,
        since_ms=int(since.timestamp() * 1000) if since is not None else None,
    )
    edges = [AuditEdge(cursor=encode_cursor(e.id), node=to_entry(e)) for e in page.entries]
    end = encode_cursor(page.end_cursor) if page.end_cursor is not None else None
    info_ = PageInfo(has_next_page=page.has_next, end_cursor=end)
    return AuditConnection(edges=edges, page_info=info_)
