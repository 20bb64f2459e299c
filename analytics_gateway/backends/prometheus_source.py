"""A read-only metric source on an existing Prometheus, over its HTTP API.

Prometheus is not multi-tenant, so every query that leaves here is scoped by
`enforce_tenant` to the caller's tenant label (see `promql_tenancy`), label
look-ups carry the same matcher as `match[]`, and series come back without
the tenant label and `__name__`. Series that carry no tenant label are never
visible. Values that are not finite (NaN, +Inf, -Inf) are dropped, as the
store drops aggregates without a value. At most `max_concurrency` requests
are in flight at once (Prometheus runs 20 queries at a time by default).
Every request is one call in `gateway_backend_calls_total` (`backends.calls`).

Errors: an unreachable, slow or failing Prometheus is `BackendUnavailable`;
Prometheus refusing the query (`bad_data`, `execution`) is `BadUserInput`
with its message, or `QueryTooComplex` when it would load too many samples.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from analytics_gateway import tracing
from analytics_gateway.backends.calls import BackendCalls, Operation
from analytics_gateway.backends.promql_print import quote
from analytics_gateway.backends.promql_queries import PromRequest, to_request
from analytics_gateway.backends.promql_tenancy import LABEL_NAME_RE, enforce_tenant
from analytics_gateway.domain import MetricQuery, Series, canonical_labels
from analytics_gateway.errors import (
    BackendTimeout,
    BackendUnavailable,
    BadUserInput,
    QueryTooComplex,
)

MAX_RESOLUTION = 11_000  # points per series Prometheus returns from a range query


class PrometheusSource:
    """Answers metric queries of one tenant from Prometheus; never writes."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        tenant_label: str,
        timeout_seconds: float,
        max_points: int,
        max_concurrency: int = 16,
        calls: BackendCalls | None = None,
    ) -> None:
        if not LABEL_NAME_RE.match(tenant_label):
            raise ValueError(f"tenant label {tenant_label!r} is not a Prometheus label name")
        self._client = client
        self._label = tenant_label
        self._timeout = timeout_seconds
        self._max_points = max_points
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight = 0
        self._calls = (calls or BackendCalls()).of("prometheus")
        self.max_in_flight = 0  # the most requests ever in flight at once

    async def query_many(self, queries: Sequence[MetricQuery]) -> list[list[Series] | Exception]:
        """All queries concurrently; item i answers query i, or is its error alone."""
        results = await asyncio.gather(*(self.query(q) for q in queries), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        return list(results)  # type: ignore[arg-type]

    async def query(self, query: MetricQuery) -> list[Series]:
        request = to_request(query)
        _check_resolution(request, "step")
        expr = enforce_tenant(request.expr, self._label, query.tenant)
        data = await self._evaluate(expr, request)
        return self._series(data, request, name=query.name)

    async def promql(
        self, tenant: str, query: str, start_ms: int, end_ms: int, step_ms: int
    ) -> list[Series]:
        """A user's PromQL as a range query, every selector scoped to `tenant`."""
        request = PromRequest(query, start_ms, end_ms, step_ms, 0, start_ms, end_ms + 1)
        _check_resolution(request, "step")
        expr = enforce_tenant(query, self._label, tenant)
        data = await self._evaluate(expr, request)
        return self._series(data, request, name=query.strip())

    async def metric_names(self, tenant: str, prefix: str | None) -> list[str]:
        names = await self._label_values("metric_names", "__name__", self._tenant_selector(tenant))
        return sorted(n for n in names if n.startswith(prefix or ""))

    async def label_values(self, tenant: str, metric: str, label: str) -> list[str]:
        if not LABEL_NAME_RE.match(label):
            raise BadUserInput(f"label: {label!r} is not a Prometheus label name", field="label")
        if label == self._label:
            return []
        match = f"{{__name__={quote(metric)},{self._label}={quote(tenant)}}}"
        return sorted(await self._label_values("label_values", label, match))

    async def ping(self) -> bool:
        response = await self._send("ping", "GET", "/-/ready", None)
        return response.status_code == 200

    async def close(self) -> None:
        await self._client.aclose()

    # -- HTTP ------------------------------------------------------------

    def _tenant_selector(self, tenant: str) -> str:
        return f"{{{self._label}={quote(tenant)}}}"

    async def _label_values(self, operation: Operation, label: str, match: str) -> list[str]:
        # `match` is built here from quoted values, never from user PromQL
        path = f"/api/v1/label/{label}/values"
        data = await self._call(operation, "GET", path, {"match[]": match})
        if not isinstance(data, list):
            raise BackendUnavailable("prometheus: unexpected label values", backend="prometheus")
        return [str(v) for v in data]

    async def _evaluate(self, expr: str, request: PromRequest) -> Any:
        params: dict[str, str] = {"query": expr, "timeout": f"{self._timeout:g}"}
        if request.step_ms is None:
            params["time"] = _seconds(request.end_ms)
            return await self._call("query_points", "POST", "/api/v1/query", params)
        params |= {
            "start": _seconds(request.start_ms),
            "end": _seconds(request.end_ms),
            "step": _seconds(request.step_ms),
        }
        return await self._call("query_points", "POST", "/api/v1/query_range", params)

    async def _call(
        self, operation: Operation, method: str, path: str, params: Mapping[str, str]
    ) -> Any:
        response = await self._send(operation, method, path, params)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise BackendUnavailable(
                f"prometheus answered HTTP {response.status_code} without JSON",
                backend="prometheus",
            ) from exc
        if isinstance(body, dict) and body.get("status") == "success":
            return body.get("data")
        raise _error(response.status_code, body)

    async def _send(
        self, operation: Operation, method: str, path: str, params: Mapping[str, str] | None
    ) -> httpx.Response:
        async with self._slots:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            try:
                with self._calls.call(operation):
                    headers = tracing.inject({})
                    async with asyncio.timeout(self._timeout):
                        if method == "GET":
                            return await self._client.get(path, params=params, headers=headers)
                        return await self._client.post(path, data=params, headers=headers)
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise BackendTimeout(
                    f"prometheus timed out after {self._timeout:g}s", backend="prometheus"
                ) from exc
            except httpx.HTTPError as exc:
                raise BackendUnavailable(
                    f"prometheus unreachable: {type(exc).__name__}", backend="prometheus"
                ) from exc
            finally:
                self._in_flight -= 1

    # -- results ---------------------------------------------------------

    def _series(self, data: Any, request: PromRequest, *, name: str) -> list[Series]:
        if not isinstance(data, dict):
            raise BackendUnavailable("prometheus: unexpected query result", backend="prometheus")
        kind, result = data.get("resultType"), data.get("result") or []
        if kind == "matrix":
            rows = [(r.get("metric", {}), r.get("values", [])) for r in result]
        elif kind == "vector":
            rows = [(r.get("metric", {}), [r["value"]]) for r in result]
        elif kind == "scalar":
            rows = [({}, [result])]
        elif kind == "string":
            raise BadUserInput("query: a string expression has no series", field="query")
        else:
            raise BackendUnavailable("prometheus: unexpected query result", backend="prometheus")
        points = 0
        out: list[Series] = []
        for metric, values in rows:
            series = self._one_series(metric, values, request, name)
            points += len(series.timestamps)
            if points > self._max_points:
                raise QueryTooComplex(
                    f"the query would return more than {self._max_points} points; "
                    "narrow the time range or use a coarser step",
                    limit=self._max_points,
                )
            out.append(series)
        out.sort(key=lambda s: canonical_labels(s.labels))
        return out

    def _one_series(
        self, metric: Mapping[str, str], values: Sequence[Any], request: PromRequest, name: str
    ) -> Series:
        labels = {k: v for k, v in metric.items() if k not in ("__name__", self._label)}
        series = Series(metric.get("__name__") or name, labels)
        shift, lo, hi = request.shift_ms, request.keep_from_ms, request.keep_until_ms
        for t, v in values:
            ts = round(float(t) * 1000) - shift
            value = float(v)
            if lo <= ts < hi and math.isfinite(value):
                series.timestamps.append(ts)
                series.values.append(value)
        return series


def _check_resolution(request: PromRequest, field: str) -> None:
    if request.step_ms is None:
        return
    if (request.end_ms - request.start_ms) // request.step_ms >= MAX_RESOLUTION:
        raise QueryTooComplex(
            f"{field}: more than {MAX_RESOLUTION} steps in the range, the most Prometheus "
            "answers per series; use a coarser step or a shorter range",
            field=field,
        )


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _error(status: int, body: Any) -> Exception:
    kind = body.get("errorType") if isinstance(body, dict) else None
    message = str(body.get("error", "")) if isinstance(body, dict) else ""
    if kind == "execution" and "too many samples" in message:
        return QueryTooComplex(f"prometheus: {message}")
    if kind in ("bad_data", "execution"):
        return BadUserInput(f"prometheus: {message}", field="query")
    return BackendUnavailable(
        f"prometheus failed (HTTP {status}, {kind or 'no error type'}): {message}",
        backend="prometheus",
    )
