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
from datetime import UTC, datetime
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
from analytics_gateway.resolvers import behaviour, engagement, recommendations

INTERVALS = ("DAY", "WEEK", "MONTH")
MEASURES = ("PLAYS", "UNIQUE_USERS")
COHORTS = ("DAY", "WEEK")
EXCLUDES = ("PLAYED",)


def _iso(ms: int) -> str:
    """An instant as the GraphQL `DateTime` scalar writes it."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise BadUserInput(f"{name}: must be a string", field=name)
    return value


def _required(params: Mapping[str, Any], name: str) -> str:
    value = _text(params, name)
    if value is None:
        raise BadUserInput(f"{name}: required", field=name)
    return value


def _int(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadUserInput(f"{name}: must be an integer", field=name)
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadUserInput(f"{name}: must be an integer", field=name) from None


def _moment(params: Mapping[str, Any], name: str) -> datetime | None:
    text = _text(params, name)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput(f"{name}: must be an ISO-8601 date-time", field=name) from None


def _choice(params: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (_text(params, name) or default).upper()
    if value not in choices:
        raise BadUserInput(f"{name}: must be one of {', '.join(choices)}", field=name)
    return value


def _range(params: Mapping[str, Any]) -> tuple[str | None, datetime | None, datetime | None]:
    return _text(params, "last"), _moment(params, "from"), _moment(params, "to")


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
        _text(params, "eventType"),
        *_range(params),
    )
    return json_response(
        {
            "interval": interval,
            "from": _iso(start),
            "to": _iso(end),
            "buckets": [{"start": _iso(at), "users": users} for at, users in counts],
            "total": total,
        }
    )


async def stickiness(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    params = request.query_params
    found = await engagement.user_stickiness(
        principal, services_of(request), _text(params, "eventType"), *_range(params)
    )
    return json_response(
        {
            "from": _iso(found.start_ms),
            "to": _iso(found.end_ms),
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
        _required(params, "eventType"),
        _required(params, "field"),
        _choice(params, "by", MEASURES, "PLAYS") == "UNIQUE_USERS",
        _int(params, "first", 10),
        *_range(params),
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
        _text(params, "eventType"),
        _choice(params, "cohort", COHORTS, "WEEK") == "WEEK",
        _int(params, "periods", 8),
        *_range(params),
    )
    return json_response(
        {
            "cohorts": [
                {
                    "start": _iso(c.start_ms),
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
        _text(body, "within") or "1d",
        _text(body, "breakdown"),
        *_range(body),
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
        _required(params, "userId"),
        _int(params, "first", 10),
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
        principal, services_of(request), _required(params, "itemId"), _int(params, "first", 10)
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
