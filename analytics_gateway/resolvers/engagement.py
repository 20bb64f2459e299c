"""Resolvers for `activeUsers`, `stickiness` and `topItems`: authorise, check, ask the
event store's engagement side (one backend call each), shape the answer."""

from __future__ import annotations

from datetime import datetime

from analytics_gateway.backends.base import ActiveUsersQuery, TopItemsQuery
from analytics_gateway.behaviour.engagement import (
    DEFAULT_RANGE_MS,
    Stickiness,
    check_first,
    check_interval,
    filled,
    interval_starts,
    stickiness,
    stickiness_window,
)
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import metric_name, time_range
from analytics_gateway.privacy.sensitive import KEY_RE


def _range(
    info: Info, last: str | None, start: datetime | None, end: datetime | None
) -> tuple[int, int]:
    """`last` or `from`/`to` as other event reads take them; default the last 30 days."""
    now = info.context.services.clock()
    start_ms, end_ms = time_range(last, start, end, now_ms=now, default_ms=DEFAULT_RANGE_MS)
    assert start_ms is not None
    assert end_ms is not None
    return start_ms, end_ms


def _event_type(event_type: str | None) -> str | None:
    return None if event_type is None else metric_name(event_type, "eventType")


async def resolve_active_users(
    info: Info,
    interval_name: str,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[int, int, list[tuple[int, int]], int]:
    """(start, end, (interval start, users) of every interval, distinct users of the range)."""
    principal = info.context.require(Scope.READ)
    interval = check_interval(interval_name)
    start_ms, end_ms = _range(info, last, start, end)
    interval_starts(start_ms, end_ms, interval)  # refused before the store is asked
    query = ActiveUsersQuery(principal.tenant, _event_type(event_type), start_ms, end_ms, interval)
    counts, total = await info.context.services.backends.events.engagement().active_users(query)
    return start_ms, end_ms, filled(counts, start_ms, end_ms, interval), total


async def resolve_stickiness(
    info: Info,
    event_type: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Stickiness:
    principal = info.context.require(Scope.READ)
    start_ms, end_ms = stickiness_window(*_range(info, last, start, end))
    query = ActiveUsersQuery(principal.tenant, _event_type(event_type), start_ms, end_ms, "day")
    daily, monthly = await info.context.services.backends.events.engagement().active_users(query)
    return stickiness(daily, monthly, start_ms, end_ms)


async def resolve_top_items(
    info: Info,
    event_type: str,
    field: str,
    by_users: bool,
    first: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[str, int, int]]:
    principal = info.context.require(Scope.READ)
    first = check_first(first)
    if not KEY_RE.match(field):
        raise BadUserInput(f"field: {field!r} is not a metadata key name", field="field")
    start_ms, end_ms = _range(info, last, start, end)
    services = info.context.services
    await services.privacy.sensitive.refuse_grouping(principal.tenant, field, "field")
    query = TopItemsQuery(
        tenant=principal.tenant,
        event_type=metric_name(event_type, "eventType"),
        key=field,
        start_ms=start_ms,
        end_ms=end_ms,
        by_users=by_users,
        limit=first,
    )
    return await services.backends.events.engagement().top_items(query)
