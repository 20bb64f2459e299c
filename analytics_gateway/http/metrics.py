"""REST routes for metrics, thin HTTP shells over ingest and the metric loaders.

- `POST /analytics/metrics`: a JSON array (or NDJSON) of points.
- `GET /analytics/metrics/{tenant_id}` and `GET /analytics/metrics/aggregated`:
  query-string forms of a metric query, checked by `inputs.metric_query`
  exactly as the GraphQL `metrics` field checks its input.
- `POST /write` and `POST /api/v2/write`: InfluxDB line protocol.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway import lineprotocol
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Aggregation, IngestOutcome, MetricQuery, Scope, Series
from analytics_gateway.errors import BadUserInput, Forbidden
from analytics_gateway.http.handlers import (
    cost_header,
    guarded,
    json_response,
    principal_of,
    services_of,
)
from analytics_gateway.ingest import RawPoint
from analytics_gateway.inputs import metric_query

# bodies from this size (some 10,000 lines) are parsed off the event loop
PARSE_IN_THREAD_BYTES = 512 * 1024


def outcome_body(outcome: IngestOutcome) -> dict[str, Any]:
    return {
        "accepted": outcome.accepted,
        "rejected": [{"index": r.index, "message": r.message} for r in outcome.rejected],
    }


def series_body(series: list[Series]) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "labels": s.labels, "data": {"t": s.timestamps, "v": s.values}}
        for s in series
    ]


def _timestamp(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return int(datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return raw
    return raw


def _raw_points(items: list[Any]) -> list[RawPoint]:
    points = []
    for item in items:
        if isinstance(item, dict):
            points.append(
                RawPoint(
                    item.get("name"),
                    item.get("value"),
                    item.get("labels"),
                    _timestamp(item.get("timestamp")),
                )
            )
        else:
            points.append(RawPoint(None, None))
    return points


def _parse_points_body(body: bytes, content_type: str) -> list[Any]:
    try:
        if "ndjson" in content_type or "jsonlines" in content_type:
            return [orjson.loads(line) for line in body.split(b"\n") if line.strip()]
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadUserInput(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("points"), list):
        data = data["points"]
    if not isinstance(data, list):
        raise BadUserInput('body must be a JSON array of points (or {"points": [...]})')
    return data


def _query(request: Request, tenant: str, *, aggregated: bool) -> MetricQuery:
    params = request.query_params
    name = params.get("name") or params.get("metric")
    if not name:
        raise BadUserInput("query parameter `name` is required", field="name")
    labels: Any = None
    if params.get("labels"):
        try:
            labels = json.loads(params["labels"])
        except json.JSONDecodeError:
            raise BadUserInput("`labels` must be a JSON object", field="labels") from None
    aggregation = None
    if params.get("aggregation") or aggregated:
        raw = (params.get("aggregation") or "avg").upper()
        try:
            aggregation = Aggregation[raw]
        except KeyError:
            allowed = ", ".join(a.name for a in Aggregation)
            raise BadUserInput(
                f"unknown aggregation {raw!r}; use one of {allowed}", field="aggregation"
            ) from None
    start = end = None
    try:
        if params.get("from"):
            start = datetime.fromisoformat(params["from"].replace("Z", "+00:00"))
        if params.get("to"):
            end = datetime.fromisoformat(params["to"].replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput("`from`/`to` must be ISO-8601 date-times", field="from") from None
    group_by = params.get("groupBy")
    return metric_query(
        tenant,
        name,
        now_ms=services_of(request).clock(),
        labels=labels,
        last=params.get("last"),
        start=start,
        end=end,
        step=params.get("step") or ("1m" if aggregated else None),
        aggregation=aggregation,
        group_by=[g for g in group_by.split(",") if g] if group_by is not None else None,
    )


async def post_metrics(request: Request) -> Response:
    principal = await principal_of(request, Scope.INGEST)
    services = services_of(request)
    services.quotas.refuse_while_waiting(principal.tenant, "point_burst")  # body unread
    items = _parse_points_body(await request.body(), request.headers.get("content-type", ""))
    await services.quotas.admit_points(principal.tenant, len(items))
    outcome = await services.ingest.ingest_points(principal.tenant, _raw_points(items))
    return json_response(outcome_body(outcome), 200 if not outcome.rejected else 422)


async def _read(request: Request, tenant: str, *, aggregated: bool) -> Response:
    query = _query(request, tenant, aggregated=aggregated)
    loaders = Loaders.for_request(services_of(request), tenant)
    series = await loaders.metrics.load(query)
    return json_response(
        {"tenant": tenant, "series": series_body(series)}, headers=cost_header(loaders)
    )


async def get_metrics(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    if request.path_params["tenant_id"] != principal.tenant:
        raise Forbidden("this API key belongs to another tenant")
    return await _read(request, principal.tenant, aggregated=False)


async def get_aggregated(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    return await _read(request, principal.tenant, aggregated=True)


async def write_line_protocol(request: Request) -> Response:
    principal = await principal_of(request, Scope.INGEST)
    services = services_of(request)
    # told to wait after a refused write: refused again with the body unread, as
    # reading and counting a flood's megabytes is most of what it costs
    services.quotas.refuse_while_waiting(principal.tenant, "point_burst")
    body = await request.body()
    # a line per point at least: refused before the parse, a flood costs little
    lines = body.count(b"\n") + (not body.endswith(b"\n"))
    await services.quotas.admit_points(principal.tenant, lines)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadUserInput("line protocol body must be UTF-8") from None
    precision = request.query_params.get("precision")
    if len(body) >= PARSE_IN_THREAD_BYTES:
        # tens of milliseconds of parsing: in a thread, so the event loop gets its
        # turns (every switch interval) and other tenants' requests go on meanwhile
        parsed, rejected = await asyncio.to_thread(lineprotocol.parse_body, text, precision)
    else:
        parsed, rejected = lineprotocol.parse_body(text, precision)
    # lines with several fields are several points: the rest of them
    await services.quotas.admit_points(principal.tenant, len(parsed) - lines)
    outcome = await services.ingest.ingest_lines(principal.tenant, parsed, rejected)
    if not outcome.rejected:
        return Response(status_code=204)
    first = outcome.rejected[0].message
    return json_response(
        {
            "code": "invalid",
            "message": f"partial write: {len(outcome.rejected)} line(s) rejected; {first}",
            **outcome_body(outcome),
        },
        400,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/analytics/metrics", guarded(post_metrics), methods=["POST"]),
        Route("/analytics/metrics/aggregated", guarded(get_aggregated), methods=["GET"]),
        Route("/analytics/metrics/{tenant_id}", guarded(get_metrics), methods=["GET"]),
        Route("/write", guarded(write_line_protocol), methods=["POST"]),
        Route("/api/v2/write", guarded(write_line_protocol), methods=["POST"]),
    ]
