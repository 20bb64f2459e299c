"""`AnalyticsClient`: one gateway, one API key, and the brief's managers over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from analytics_gateway_client.alerts import AlertManager
from analytics_gateway_client.dashboards import DashboardManager
from analytics_gateway_client.errors import Forbidden, GraphQLErrorDetail, TransportError
from analytics_gateway_client.metrics import MetricsCollector
from analytics_gateway_client.ml import AnomalyDetector, PredictiveAnalytics
from analytics_gateway_client.transport import GatewayGraphQL, Subscription, mapped_errors

T = TypeVar("T")
M = TypeVar("M")

DEFAULT_URL = "http://127.0.0.1:8000"


def endpoints(url: str) -> tuple[str, str]:
    """The GraphQL HTTP and WebSocket URLs of a gateway at `url` (with or without /graphql)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the gateway URL must be http(s)://host[:port][/path], not {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/graphql"):
        path += "/graphql"
    http = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    ws = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, path, "", ""))
    return http, ws


@dataclass(frozen=True)
class Viewer:
    """Who the API key is: its tenant, id and scopes (ingest, read, write, admin)."""

    tenant: str
    key_id: str
    scopes: frozenset[str]


class AnalyticsClient:
    """A typed async client of the analytics gateway for one API key.

        async with AnalyticsClient("http://127.0.0.1:8000", api_key=KEY) as client:
            await client.metrics.collect_business_metrics(revenue=1250.5)
            [series] = await client.metrics.query("revenue", last="1h")

    Every tenant-scoped call acts for the key's tenant. The managers of the
    product brief are attributes (`metrics`, `alerts`, `dashboards`, `anomalies`,
    `predictions`) and can also be built from a client (`MetricsCollector(client)`).
    `graphql` is the generated client underneath, for any operation in
    `operations/`. Errors are raised as the tree in `analytics_gateway_client.errors`.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str = "",
        *,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required (a tenant's key, e.g. the demo's)")
        graphql_url, ws_url = endpoints(url)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.graphql = GatewayGraphQL(
            graphql_url, api_key, http_client=self._http, ws_url=ws_url, ws_open_timeout=timeout
        )
        self._viewer: Viewer | None = None
        self.metrics = MetricsCollector(self)
        self.alerts = AlertManager(self)
        self.dashboards = DashboardManager(self)
        self.anomalies = AnomalyDetector(self)
        self.predictions = PredictiveAnalytics(self)

    async def call(self, operation: Awaitable[T]) -> T:
        """Await a generated operation, raising failures as the client's errors."""
        with mapped_errors():
            return await operation

    def subscribe(self, stream: AsyncIterator[M], pick: Callable[[M], T]) -> Subscription[T]:
        """A generated subscription as a `Subscription` of `pick(message)` (typed
        errors, closable)."""
        return Subscription(stream, pick)

    async def viewer(self) -> Viewer:
        """The key's tenant and scopes (asked once, then remembered)."""
        if self._viewer is None:
            answer = (await self.call(self.graphql.viewer())).viewer
            if not isinstance(answer, dict) or not isinstance(answer.get("tenant"), str):
                raise TransportError(f"the gateway did not say who this key is: {answer!r}")
            self._viewer = Viewer(
                tenant=answer["tenant"],
                key_id=str(answer.get("keyId", "")),
                scopes=frozenset(str(s) for s in answer.get("scopes", [])),
            )
        return self._viewer

    async def check_tenant(self, tenant_id: str | None) -> None:
        """Nothing when `tenant_id` is None or the key's tenant; else `Forbidden`, as the
        gateway's REST routes answer a tenant id that is not the key's."""
        if tenant_id is None:
            return
        tenant = (await self.viewer()).tenant
        if tenant_id != tenant:
            message = f"this API key acts for tenant {tenant!r}, not {tenant_id!r}"
            raise Forbidden([GraphQLErrorDetail(message, {"code": "FORBIDDEN"})])

    async def aclose(self) -> None:
        """Close the HTTP connections (unless the http_client was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AnalyticsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
