"""REST routes for engagement, retention, funnels and recommendations: thin shells over
the functions the GraphQL resolvers call, so both accept, refuse and answer alike.

- `GET /analytics/engagement/active-users`: `activeUsers` (`interval`, `eventType`,
  `last` or `from`/`to`).
- `GET /analytics/engagement/stickiness`: `stickiness`.
- `GET /analytics/engagement/top-items`: `topItems` (`eventType`, `field`, `by`, `first`).
- `GET /analytics/behaviour/retention`: `retentionCohorts` (`cohort`, `periods`).
- `POST /analytics/behaviour/funnel`: `funnel`, its arguments as a JSON body.
- `GET /analytics/recommendations`: `recommendations` (`userId`, `first`, `exclude` as a
  comma list; absent: PLAYED, empty: none).
- `GET /analytics/recommendations/similar`: `similarItems` (`itemId`, `first`).

Parameters have the GraphQL argument names, enums their GraphQL value names;
answers are the GraphQL field's object (lists inside an object) with the same
keys, times as ISO-8601 UTC. Errors are `{"errors": [{"message", "extensions":
{"code", "field"}}]}` with the GraphQL codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.behaviour import funnels
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.http.handlers import (
    guarded,
    json_object,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.http.params import integer, iso, required, text, time_span
from analytics_gateway.resolvers import behaviour, engagement, recommendations

INTERVALS = ("DAY", "WEEK", "MONTH")
MEASURES = ("PLAYS", "UNIQUE_USERS")
COHORTS = ("DAY", "WEEK")
EXCLUDES = ("PLAYED",)


def _choice(params: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (text(params, name) or default).upper()
    if value not in choices:
        raise BadUserInput(f"{name}: must be one of {', '.join(choices)}", field=name)
    return value


def _steps(found: list[funnels.FunnelStep]) -> list[dict[str, Any]]:
    return [
        {
            "eventType": s.event_type,
            "users": s.users,
            "fromPrevious": s.from_previous,
            "fromFirst": s.from_first,
            "medianSeconds": s.median_seconds,
        }
        for s in found
    ]


def _items(found: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"itemId": item, "score": score} for item, score in found]


async def active_users(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    interval = _choice(params, "interval", INTERVALS, "")
    start, end, counts, total = await engagement.active_users(
        principal,
        services_of(request),
        interval.lower(),
        text(params, "eventType"),
        *time_span(params),
    )
    return json_response(
        {
            "interval": interval,
            "from": iso(start),
            "to": iso(end),
            "buckets": [{"start": iso(at), "users": users} for at, users in counts],
            "total": total,
        }
    )


async def stickiness(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    found = await engagement.user_stickiness(
        principal, services_of(request), text(params, "eventType"), *time_span(params)
    )
    return json_response(
        {
            "from": iso(found.start_ms),
            "to": iso(found.end_ms),
            "days": found.days,
            "dailyActiveUsers": found.daily_active_users,
            "averageDailyActiveUsers": found.average_daily,
            "monthlyActiveUsers": found.monthly,
            "stickiness": found.ratio,
        }
    )


async def top_items(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    found = await engagement.top_items(
        principal,
        services_of(request),
        required(params, "eventType"),
        required(params, "field"),
        _choice(params, "by", MEASURES, "PLAYS") == "UNIQUE_USERS",
        integer(params, "first", 10),
        *time_span(params),
    )
    return json_response(
        {"items": [{"value": v, "plays": plays, "users": users} for v, plays, users in found]}
    )


async def retention(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    found = await behaviour.retention(
        principal,
        services_of(request),
        text(params, "eventType"),
        _choice(params, "cohort", COHORTS, "WEEK") == "WEEK",
        integer(params, "periods", 8),
        *time_span(params),
    )
    return json_response(
        {
            "cohorts": [
                {
                    "start": iso(c.start_ms),
                    "size": c.size,
                    "retained": c.retained,
                    "rates": c.rates,
                }
                for c in found
            ]
        }
    )


async def funnel(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    body = await json_object(request)
    steps = body.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise BadUserInput("steps: must be a list of event types", field="steps")
    overall, groups = await behaviour.funnel(
        principal,
        services_of(request),
        steps,
        text(body, "within") or "1d",
        text(body, "breakdown"),
        *time_span(body),
    )
    return json_response(
        {
            "steps": _steps(overall),
            "breakdown": None
            if groups is None
            else [{"value": g.value, "steps": _steps(g.steps)} for g in groups],
        }
    )


async def recommend(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    raw = params.get("exclude")
    exclude = ["PLAYED"] if raw is None else [e.strip().upper() for e in raw.split(",") if e]
    if any(e not in EXCLUDES for e in exclude):
        raise BadUserInput(f"exclude: must name {', '.join(EXCLUDES)} only", field="exclude")
    found = await recommendations.recommend(
        principal,
        services_of(request),
        required(params, "userId"),
        integer(params, "first", 10),
        "PLAYED" in exclude,
    )
    return json_response(
        {
            "items": _items(found.items),
            "personalised": found.personalised,
            "modelId": found.model_id,
        }
    )


async def similar(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    found = await recommendations.similar_items(
        principal, services_of(request), required(params, "itemId"), integer(params, "first", 10)
    )
    return json_response({"items": _items(found)})


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/engagement/active-users", guarded(active_users), methods=["GET"]),
        Route("/analytics/engagement/stickiness", guarded(stickiness), methods=["GET"]),
        Route("/analytics/engagement/top-items", guarded(top_items), methods=["GET"]),
        Route("/analytics/behaviour/retention", guarded(retention), methods=["GET"]),
        Route("/analytics/behaviour/funnel", guarded(funnel), methods=["POST"]),
        Route("/analytics/recommendations", guarded(recommend), methods=["GET"]),
        Route("/analytics/recommendations/similar", guarded(similar), methods=["GET"]),
    ]
