"""REST routes for sessions, new users, paths, segments, churn risk and user features:
thin shells over the functions the GraphQL resolvers call, so both accept, refuse
(with the same codes and fields) and answer alike, through the same behaviour cache.

- `GET /analytics/behaviour/sessions`: `sessions` (`eventType`, `gap`, `interval`).
- `GET /analytics/behaviour/new-users`: `newUsers` (`interval`).
- `GET /analytics/behaviour/next-events`: `nextEvents` as `{"events": [...]}` (`after`,
  `first`, `within`).
- `GET /analytics/behaviour/segments`: `userSegments` (`eventType`, `segments`,
  `examples`).
- `GET /analytics/behaviour/churn-risk`: `churnRisk` (`horizon`, `eventType`, `first`).
- `GET /analytics/behaviour/user-features`: `userFeatures` as `{"users": [...]}`
  (`eventType`, `first`, `after`).

Every route also takes `last` or `from`/`to` and the tenant's key with the read
scope. Parameters have the GraphQL argument names, enums their value names; answers
have the GraphQL field's keys, times as ISO-8601 UTC.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.behaviour import features
from analytics_gateway.behaviour.features import UserFeatures
from analytics_gateway.behaviour.segments import Segment
from analytics_gateway.domain import Scope
from analytics_gateway.http import params
from analytics_gateway.http.handlers import guarded, json_response, principal_of, services_of
from analytics_gateway.resolvers import behaviour, engagement, segments
from analytics_gateway.schema.engagement import ActivityInterval


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def behaviour_json(user: UserFeatures) -> dict[str, Any]:
    """A user's features as the GraphQL `UserBehaviour` type."""
    return {
        "userId": user.user_id,
        "recencyDays": float(user.recency_days),
        "frequency": int(user.frequency),
        "activeDays": int(user.active_days),
        "tenureDays": float(user.tenure_days),
        "trend": float(user.trend),
        "eventTypes": int(user.event_types),
        "topTypeShare": float(user.top_type_share),
    }


def segment_json(s: Segment) -> dict[str, Any]:
    """A segment as the GraphQL `UserSegment` type."""
    return {
        "id": s.id,
        "size": s.size,
        "share": float(s.share),
        "centroid": {
            _camel(name): float(v) for name, v in zip(features.FEATURES, s.centroid, strict=True)
        },
        "traits": [
            {"feature": t.feature, "zScore": float(t.z_score), "words": t.words} for t in s.traits
        ],
        "description": s.description,
        "exampleUserIds": list(s.examples),
    }


async def sessions(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    interval = params.choice(q, "interval", ActivityInterval, ActivityInterval.DAY)
    found = await behaviour.user_sessions(
        principal,
        services_of(request),
        params.text(q, "eventType"),
        params.text(q, "gap") or "30m",
        interval.name.lower(),
        *params.time_span(q),
    )
    return json_response(
        {
            "interval": interval.name,
            "gapSeconds": found.gap_ms / 1000,
            "from": params.iso(found.start_ms),
            "to": params.iso(found.end_ms),
            "count": found.count,
            "users": found.users,
            "averageSeconds": found.average_seconds,
            "medianSeconds": found.median_seconds,
            "averageEvents": found.average_events,
            "buckets": [{"start": params.iso(t), "sessions": n} for t, n in found.per_interval],
        }
    )


async def new_users(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    interval = params.choice(q, "interval", ActivityInterval, None)
    start, end, found = await engagement.new_and_returning(
        principal, services_of(request), interval.name.lower(), *params.time_span(q)
    )
    return json_response(
        {
            "interval": interval.name,
            "from": params.iso(start),
            "to": params.iso(end),
            "buckets": [
                {
                    "start": params.iso(b.start_ms),
                    "new": b.new,
                    "returning": b.returning,
                    "total": b.total,
                }
                for b in found
            ],
        }
    )


async def next_events(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    found = await behaviour.next_events(
        principal,
        services_of(request),
        params.required(q, "after"),
        params.integer(q, "first", 10),
        params.text(q, "within") or "30m",
        *params.time_span(q),
    )
    return json_response(
        {
            "events": [
                {
                    "eventType": n.event_type,
                    "transitions": n.transitions,
                    "users": n.users,
                    "share": n.share,
                }
                for n in found
            ]
        }
    )


async def user_segments(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    found = await segments.user_segments(
        principal,
        services_of(request),
        params.text(q, "eventType"),
        params.optional_integer(q, "segments"),
        params.integer(q, "examples", 5),
        *params.time_span(q),
    )
    return json_response(
        {
            "from": params.iso(found.start_ms),
            "to": params.iso(found.end_ms),
            "users": found.users,
            "k": found.k,
            "silhouette": None if found.silhouette is None else float(found.silhouette),
            "segments": [segment_json(s) for s in found.segments],
        }
    )


async def churn_risk(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    found = await segments.churn_risk(
        principal,
        services_of(request),
        params.text(q, "horizon") or "14d",
        params.text(q, "eventType"),
        params.integer(q, "first", 50),
        *params.time_span(q),
    )
    fit = found.fit
    return json_response(
        {
            "from": params.iso(found.start_ms),
            "to": params.iso(found.end_ms),
            "cutoff": params.iso(found.cutoff_ms),
            "scoredUsers": found.scored_users,
            "users": [
                {"userId": u.user_id, "probability": float(p), "features": behaviour_json(u)}
                for u, p in found.at_risk
            ],
            "model": {
                "auc": None if fit.auc is None else float(fit.auc),
                "brier": float(fit.brier),
                "baseRate": float(found.base_rate),
                "trainingUsers": fit.training_users,
                "heldOutUsers": fit.held_out_users,
                "calibration": [
                    {
                        "lower": float(b.lower),
                        "upper": float(b.upper),
                        "users": int(b.users),
                        "meanPredicted": float(b.mean_predicted),
                        "observed": float(b.observed),
                    }
                    for b in fit.calibration
                ],
            },
        }
    )


async def user_features(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    q = request.query_params
    found = await segments.user_features(
        principal,
        services_of(request),
        params.text(q, "eventType"),
        params.integer(q, "first", 100),
        params.text(q, "after"),
        *params.time_span(q),
    )
    return json_response({"users": [behaviour_json(u) for u in found]})


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/behaviour/sessions", guarded(sessions), methods=["GET"]),
        Route("/analytics/behaviour/new-users", guarded(new_users), methods=["GET"]),
        Route("/analytics/behaviour/next-events", guarded(next_events), methods=["GET"]),
        Route("/analytics/behaviour/segments", guarded(user_segments), methods=["GET"]),
        Route("/analytics/behaviour/churn-risk", guarded(churn_risk), methods=["GET"]),
        Route("/analytics/behaviour/user-features", guarded(user_features), methods=["GET"]),
    ]
