"""Resolvers for `retentionCohorts` and `funnel`: authorise, check, ask the event store's
behaviour side, shape the answer."""

from __future__ import annotations

from datetime import datetime

from analytics_gateway.backends.base import FunnelQuery, RetentionQuery
from analytics_gateway.behaviour import funnels
from analytics_gateway.behaviour.retention import (
    MAX_USERS,
    Cohort,
    check_periods,
    check_range,
    cohorts,
)
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.inputs import bounded_range, metric_name


async def resolve_retention(
    info: Info,
    event_type: str | None,
    week: bool,
    periods: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[Cohort]:
    principal = info.context.require(Scope.READ)
    periods = check_periods(periods)
    services = info.context.services
    start_ms, end_ms = bounded_range(last, start, end, now_ms=services.clock())
    check_range(start_ms, end_ms, week)
    query = RetentionQuery(
        tenant=principal.tenant,
        event_type=None if event_type is None else metric_name(event_type, "eventType"),
        start_ms=start_ms,
        end_ms=end_ms,
        week=week,
        periods=periods,
        max_users=MAX_USERS,
    )
    counts = await services.backends.events.behaviour().retention(query)
    return cohorts(counts, periods)


async def resolve_funnel(
    info: Info,
    steps: list[str],
    within: str,
    breakdown: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[funnels.FunnelStep], list[funnels.FunnelGroup] | None]:
    principal = info.context.require(Scope.READ)
    checked = funnels.check_steps(steps)
    within_ms = funnels.check_within(within)
    key = None if breakdown is None else funnels.check_breakdown(breakdown)
    services = info.context.services
    start_ms, end_ms = bounded_range(last, start, end, now_ms=services.clock())
    query = FunnelQuery(
        tenant=principal.tenant,
        steps=checked,
        start_ms=start_ms,
        end_ms=end_ms,
        within_ms=within_ms,
        breakdown=key,
        max_users=MAX_USERS,
    )
    users = await services.backends.events.behaviour().funnel(query)
    overall = funnels.figures(checked, [times for _, times in users])
    return overall, None if key is None else funnels.breakdown(checked, users)
