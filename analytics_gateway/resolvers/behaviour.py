"""Resolvers for `retentionCohorts`, `funnel`, `sessions` and `nextEvents`: authorise,
check, ask the event store's behaviour (or journeys) side through the behaviour cache,
shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics_gateway.backends.base import (
    FunnelQuery,
    NextEventsQuery,
    RetentionQuery,
    SessionFigures,
    SessionsQuery,
)
from analytics_gateway.behaviour import funnels, paths, sessions
from analytics_gateway.behaviour.cache import BehaviourCache
from analytics_gateway.behaviour.engagement import (
    DEFAULT_RANGE_MS,
    check_interval,
    interval_starts,
)
from analytics_gateway.behaviour.retention import (
    MAX_USERS,
    Cohort,
    check_periods,
    check_range,
    cohorts,
)
from analytics_gateway.context import Info
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.inputs import bounded_range, metric_name, time_range
from analytics_gateway.services import Services


def behaviour_cache(services: Services) -> BehaviourCache:
    """The cache (and costing) every behaviour and engagement read goes through."""
    return BehaviourCache(
        services.backends.cache,
        services.settings.cache_ttl_seconds,
        services.clock,
        services.backends.events,
    )


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
    return await retention(
        principal, info.context.services, event_type, week, periods, last, start, end
    )


async def retention(
    principal: Principal,
    services: Services,
    event_type: str | None,
    week: bool,
    periods: int,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[Cohort]:
    """`retentionCohorts` for an authorised caller (GraphQL and REST)."""
    periods = check_periods(periods)
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
    counts = await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.behaviour().retention(query),
        lambda raw: [(int(c), int(k), int(n)) for c, k, n in raw],
    )
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
    return await funnel(
        principal, info.context.services, steps, within, breakdown, last, start, end
    )


async def funnel(
    principal: Principal,
    services: Services,
    steps: list[str],
    within: str,
    breakdown: str | None,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[funnels.FunnelStep], list[funnels.FunnelGroup] | None]:
    """`funnel` for an authorised caller (GraphQL and REST)."""
    checked = funnels.check_steps(steps)
    within_ms = funnels.check_within(within)
    key = None if breakdown is None else funnels.check_breakdown(breakdown)
    start_ms, end_ms = bounded_range(last, start, end, now_ms=services.clock())
    query = FunnelQuery(
        tenant=principal.tenant,
        steps=checked,
        start_ms=start_ms,
        end_ms=end_ms,
        within_ms=within_ms,
        breakdown=key,
        max_users=MAX_USERS,
        max_groups=funnels.MAX_BREAKDOWN,
    )
    tally = await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.behaviour().funnel(query),
        funnels.decode,
    )
    overall = funnels.figures(checked, tally.overall)
    return overall, None if key is None else funnels.breakdown(checked, tally)


def _range(
    services: Services, last: str | None, start: datetime | None, end: datetime | None
) -> tuple[int, int]:
    """`last` or `from`/`to`, the last 30 days by default (as engagement reads)."""
    now = services.clock()
    start_ms, end_ms = time_range(last, start, end, now_ms=now, default_ms=DEFAULT_RANGE_MS)
    assert start_ms is not None
    assert end_ms is not None
    return start_ms, end_ms


def _session_figures(raw: Any) -> SessionFigures:
    return SessionFigures(
        **{**raw, "per_interval": [(int(at), int(n)) for at, n in raw["per_interval"]]}
    )


async def resolve_sessions(
    info: Info,
    event_type: str | None,
    gap: str,
    interval_name: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> sessions.Sessions:
    principal = info.context.require(Scope.READ)
    return await user_sessions(
        principal, info.context.services, event_type, gap, interval_name, last, start, end
    )


async def user_sessions(
    principal: Principal,
    services: Services,
    event_type: str | None,
    gap: str,
    interval_name: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> sessions.Sessions:
    """`sessions` for an authorised caller (GraphQL and REST)."""
    gap_ms = sessions.check_gap(gap)
    interval = check_interval(interval_name)
    start_ms, end_ms = _range(services, last, start, end)
    sessions.check_span(start_ms, end_ms)
    interval_starts(start_ms, end_ms, interval)  # refused before the store is asked
    query = SessionsQuery(
        tenant=principal.tenant,
        event_type=None if event_type is None else metric_name(event_type, "eventType"),
        start_ms=start_ms,
        end_ms=end_ms,
        gap_ms=gap_ms,
        interval=interval,
        max_users=sessions.MAX_USERS,
        max_events=sessions.MAX_EVENTS,
    )
    found = await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.journeys().sessions(query),
        _session_figures,
    )
    return sessions.figures(found, gap_ms, start_ms, end_ms, interval)


async def resolve_next_events(
    info: Info,
    after: str,
    first: int,
    within: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[paths.NextEvent]:
    principal = info.context.require(Scope.READ)
    return await next_events(
        principal, info.context.services, after, first, within, last, start, end
    )


async def next_events(
    principal: Principal,
    services: Services,
    after: str,
    first: int,
    within: str,
    last: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[paths.NextEvent]:
    """`nextEvents` for an authorised caller (GraphQL and REST)."""
    kind = metric_name(after, "after")
    first = paths.check_first(first)
    within_ms = paths.check_within(within)
    start_ms, end_ms = _range(services, last, start, end)
    sessions.check_span(start_ms, end_ms)
    query = NextEventsQuery(
        tenant=principal.tenant,
        after=kind,
        start_ms=start_ms,
        end_ms=end_ms,
        within_ms=within_ms,
        limit=first,
        max_users=sessions.MAX_USERS,
        max_events=sessions.MAX_EVENTS,
    )
    total, found = await behaviour_cache(services).answer(
        principal.tenant,
        query,
        lambda: services.backends.events.journeys().next_events(query),
        lambda raw: (int(raw[0]), [(k, int(n), int(u)) for k, n, u in raw[1]]),
    )
    return paths.next_events(total, found)
