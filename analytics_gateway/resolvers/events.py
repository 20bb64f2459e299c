"""Resolvers for reading events."""

from __future__ import annotations

import base64
import binascii
from typing import cast

from strawberry.scalars import JSON

from analytics_gateway import domain
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, QueryTooComplex
from analytics_gateway.inputs import bounded_range, metric_name, time_range
from analytics_gateway.schema.events import Event, EventConnection, EventEdge, EventFilter, PageInfo
from analytics_gateway.schema.metrics import Series, to_datetime

MAX_PAGE = 1000
MAX_BUCKETS = 100_000


def encode_cursor(event: domain.Event) -> str:
    return base64.urlsafe_b64encode(f"{event.timestamp_ms}:{event.event_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        ts, _, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(ts), event_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput("after: not a cursor returned by this API", field="after") from None


def to_event(event: domain.Event) -> Event:
    return Event(
        id=event.event_id,  # type: ignore[arg-type]
        type=event.type,
        user_id=event.user_id,
        timestamp=to_datetime(event.timestamp_ms),
        metadata=cast(JSON, dict(event.metadata)),
    )


async def resolve_events(
    info: Info, filter: EventFilter, first: int, after: str | None
) -> EventConnection:
    principal = info.context.require(Scope.READ)
    if first < 1 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    now = info.context.services.clock()
    start, end = time_range(filter.last, filter.from_, filter.to, now_ms=now, default_ms=None)
    pseudonyms = info.context.services.privacy.pseudonyms  # as ingest stored it
    query = domain.EventQuery(
        tenant=principal.tenant,
        type=filter.type,
        user_id=pseudonyms.stored_or_none(principal.tenant, filter.user_id),
        start_ms=start,
        end_ms=end,
        limit=first + 1,
        after=decode_cursor(after) if after else None,
    )
    events = await info.context.services.reads.events(query)
    page = events[:first]
    edges = [EventEdge(cursor=encode_cursor(e), node=to_event(e)) for e in page]
    return EventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(events) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def resolve_event_types(info: Info) -> list[str]:
    principal = info.context.require(Scope.READ)
    return await info.context.services.reads.event_types(principal.tenant)


async def resolve_event_counts(
    info: Info, type: str, last: str, step: str, group_by: str | None
) -> list[Series]:
    principal = info.context.require(Scope.READ)
    start, end = bounded_range(last, None, None, now_ms=info.context.services.clock())
    step_ms = parse_duration_ms(step, field="step")
    if (end - start) // step_ms > MAX_BUCKETS:
        raise QueryTooComplex(f"more than {MAX_BUCKETS} buckets; use a coarser step")
    query = domain.EventCountQuery(
        tenant=principal.tenant,
        type=metric_name(type, "type"),
        start_ms=start,
        end_ms=end,
        step_ms=step_ms,
        group_by=group_by,
    )
    series = await info.context.loaders.event_counts.load(query)
    return [Series(series=s) for s in series]
