"""The REST routes of the brief, thin HTTP shells over the same services.

- `POST /analytics/metrics`: a JSON array (or NDJSON) of points.
- `GET /analytics/metrics/{tenant_id}` and `GET /analytics/metrics/aggregated`:
  query-string forms of `MetricQuery`.
- `POST /write` and `POST /api/v2/write`: InfluxDB line protocol.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from analytics_gateway import lineprotocol
from analytics_gateway.auth import authenticate, credential_from, require
from analytics_gateway.domain import IngestOutcome, Principal, Scope, Series
from analytics_gateway.errors import BadUserInput, Forbidden, GatewayError
from analytics_gateway.ingest import RawPoint
from analytics_gateway.resolvers.metrics import to_domain
from analytics_gateway.schema.metrics import Aggregation, MetricQueryInput
from analytics_gateway.services import Services

Handler = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(exc: GatewayError) -> Response:
    return json_response({"errors": [{"message": exc.message, "extensions": exc.as_extensions()}]},
                 exc.http_status)  # fmt: skip


def guarded(handler: Handler) -> Handler:
    """The handler, with gateway errors answered as their status and `extensions.code`."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except GatewayError as exc:
            return error_response(exc)

    return wrapped


async def json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadUserInput(f"body is not valid JSON: {exc}") from None


async def principal_of(services: Services, request: Request, scope: Scope) -> Principal:
    headers = dict(request.headers)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("token "):  # InfluxDB v2 clients
        headers["authorization"] = "Bearer " + auth[6:]
    key = credential_from(headers) or request.query_params.get("p")  # v1: ?u=&p=
    return require(await authenticate(services.backends.config, key), scope)


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
            return [orjson.loads(line) for line in body.splitlines() if line.strip()]
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadUserInput(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("points"), list):
        data = data["points"]
    if not isinstance(data, list):
        raise BadUserInput('body must be a JSON array of points (or {"points": [...]})')
    return data


def _query_input(request: Request, *, aggregated: bool) -> MetricQueryInput:
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
    return MetricQueryInput(
        name=name,
        labels=labels,
        last=params.get("last"),
        from_=start,
        to=end,
        step=params.get("step") or ("1m" if aggregated else None),
        aggregation=aggregation,
        group_by=[g for g in group_by.split(",") if g] if group_by is not None else None,
    )


class RestRoutes:
    """Route handlers bound to one app's services."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self._services = services

    def handlers(self) -> dict[str, Handler]:
        return {
            "post_metrics": guarded(self.post_metrics),
            "get_metrics": guarded(self.get_metrics),
            "get_aggregated": guarded(self.get_aggregated),
            "write_v1": guarded(self.write_line_protocol),
            "write_v2": guarded(self.write_line_protocol),
        }

    async def post_metrics(self, request: Request) -> Response:
        services = self._services()
        principal = await principal_of(services, request, Scope.WRITE)
        items = _parse_points_body(await request.body(), request.headers.get("content-type", ""))
        outcome = await services.ingest.ingest_points(principal.tenant, _raw_points(items))
        return json_response(outcome_body(outcome), 200 if not outcome.rejected else 422)

    async def _read(self, request: Request, tenant: str, *, aggregated: bool) -> Response:
        services = self._services()
        query = to_domain(tenant, _query_input(request, aggregated=aggregated))
        [series] = await services.backends.metrics.query_many([query])
        return json_response({"tenant": tenant, "series": series_body(series)})

    async def get_metrics(self, request: Request) -> Response:
        principal = await principal_of(self._services(), request, Scope.READ)
        tenant_id = request.path_params["tenant_id"]
        if tenant_id != principal.tenant:
            raise Forbidden("this API key belongs to another tenant")
        return await self._read(request, principal.tenant, aggregated=False)

    async def get_aggregated(self, request: Request) -> Response:
        principal = await principal_of(self._services(), request, Scope.READ)
        return await self._read(request, principal.tenant, aggregated=True)

    async def write_line_protocol(self, request: Request) -> Response:
        services = self._services()
        principal = await principal_of(services, request, Scope.WRITE)
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadUserInput("line protocol body must be UTF-8") from None
        parsed, rejected = lineprotocol.parse_body(text, request.query_params.get("precision"))
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
