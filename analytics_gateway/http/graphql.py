"""The `/graphql` endpoint: Strawberry's ASGI view plus auth and GraphQL-over-HTTP rules.

HTTP callers authenticate with `Authorization: Bearer <key>` or `X-API-Key`,
or `Authorization: Bearer <token>` from the identity provider (401
otherwise); WebSocket callers put the same in the `connection_init` payload,
and are closed with 4401 when the credential expires. Clients that accept
`application/graphql-response+json` get it, with 4xx statuses for requests
that could not be executed, as the spec says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from analytics_gateway import bulk_json, query_cost
from analytics_gateway.auth import credential_from
from analytics_gateway.config import Settings
from analytics_gateway.context import Context
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal
from analytics_gateway.errors import GatewayError
from analytics_gateway.http.graphql_ws import CohortTransportWSHandler, is_subscription
from analytics_gateway.http.handlers import error_body, refusal_response, services_of
from analytics_gateway.http.pages import graphiql_page
from analytics_gateway.observability import client_error

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    504: "REQUEST_TIMEOUT",
}


class TextFrames(ASGIWebSocketAdapter):
    """Protocol messages as text frames: browsers' graphql-ws clients refuse binary ones."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view; every request finds the app's services in its lifespan state."""

    graphql_transport_ws_handler_class = CohortTransportWSHandler
    websocket_adapter_class = TextFrames

    def __init__(self, settings: Settings, schema: BaseSchema) -> None:
        limits = settings.limits
        super().__init__(
            schema=schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            max_subscriptions_per_connection=limits.max_subscriptions_per_connection,
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self._max_tokens = limits.max_tokens
        self._timeout_seconds = settings.request_timeout_seconds

    def encode_json(self, data: object) -> bytes:
        return bulk_json.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson, as the REST routes: a depth limit (1024) and no unbounded integers,
        # where the standard parser would recurse out or spend seconds on digits
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"the body is not valid JSON: {exc}") from None

    async def render_graphql_ide(self, request: Request) -> Response:
        # GraphiQL built from npm packages and served by the gateway itself: no CDN
        return await graphiql_page(services_of(request).settings, self.graphql_ide_html)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if not self._is_ide_request(request):
                async with contextlib.AsyncExitStack() as stack:
                    try:
                        key = credential_from(request.headers)
                        services = services_of(request)
                        # a tenant flooding past its request or query-point rate: refused
                        # before any store call or GraphQL work (any operation: it was
                        # told to wait)
                        services.quotas.refuse_while_waiting(
                            services.auth.recent_tenant(key), "request_burst", "query_point_burst"
                        )
                        principal = await services.auth.authenticate(key)
                        await services.quotas.admit_request(principal.tenant)
                        await stack.enter_async_context(services.quotas.running(principal.tenant))
                    except GatewayError as exc:
                        response = await refusal_response(request, exc)
                        await response(scope, receive, send)
                        return
                    scope["state"]["principal"] = principal
                    await super().__call__(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _is_ide_request(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services = services_of(request)
        principal: Principal | None = request.scope["state"].get("principal")
        loaders = Loaders.for_request(services, principal.tenant if principal else None)
        if isinstance(request, Request):
            request.scope["state"]["loaders"] = loaders  # released once answered (`run`)
            query_cost.bind(loaders.cost)  # behaviour reads find it (this request's task)
        return Context(services=services, request_loaders=loaders, principal=principal)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = {str(k): v for k, v in (context.connection_params or {}).items()}
        headers = {k: v for k, v in params.items() if isinstance(v, str)}
        try:
            principal = await context.services.auth.authenticate(credential_from(headers))
        except GatewayError as exc:
            log.info("websocket connection refused: %s", exc.message)
            context.services.audit.note_refusal(exc, "websocket")
            message, _ = client_error(exc)
            raise ConnectionRejectionError({"code": exc.code, "message": message}) from exc
        # a refusal here closes with 4429 (see CohortTransportWSHandler)
        await context.services.quotas.admit_request(principal.tenant)
        await context.services.quotas.open_connection(principal.tenant)
        context.principal = principal  # set once counted: `shutdown` releases it
        return {"tenant": principal.tenant}

    async def execute_operation(
        self, request: Request, request_adapter: Any, request_data: Any, *args: Any, **kwargs: Any
    ) -> Any:
        items = request_data if isinstance(request_data, list) else [request_data]
        for item in items:
            if (
                item.protocol == "http"
                and isinstance(item.query, str)
                and is_subscription(item.query, item.operation_name, self._max_tokens)
            ):
                raise HTTPException(
                    400,
                    "subscriptions need a WebSocket: connect to /graphql with graphql-transport-ws",
                )
        seconds = self._timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                return await super().execute_operation(
                    request, request_adapter, request_data, *args, **kwargs
                )
        except TimeoutError:
            raise HTTPException(
                504, f"the request did not finish within {seconds:g} s and was stopped"
            ) from None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # not executed (parse, validation, variables); a field error that nulls
            # `data` is a partial response, 200 as the spec recommends
            request.state.request_error = True
        _forget_frames(result)
        await bulk_json.encode_noted()
        return process_result(result)

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if not isinstance(request, Request):  # a WebSocket: its whole connection runs here
            return await super().run(request)
        try:
            with bulk_json.noting():  # this one request's columns, encoded ahead
                response = await super().run(request)
        except HTTPException as exc:
            _release_loaders(request)
            # refusals before execution get the same JSON error shape as everything else
            status, headers = exc.status_code, {}
            refused = isinstance(exc.__cause__, InvalidOperationTypeError)
            if refused and isinstance(request, Request) and request.method == "GET":
                # GraphQL over HTTP: a mutation over GET MUST be 405 and not executed
                status, headers = 405, {"Allow": "POST"}
            code = HTTP_CODES.get(status, "BAD_REQUEST")
            body = error_body(exc.reason, {"code": code})
            return JSONResponse(body, status_code=status, headers=headers)
        _release_loaders(request)
        if isinstance(request, Request) and isinstance(response, Response):
            accept = request.headers.get("accept", "")
            media = response.headers.get("content-type", "")
            if GRAPHQL_RESPONSE in accept and media.startswith("application/json"):
                response.headers["content-type"] = GRAPHQL_RESPONSE + "; charset=utf-8"
                if getattr(request.state, "request_error", False) and response.status_code == 200:
                    response.status_code = 400
        return response


def _forget_frames(result: ExecutionResult) -> None:
    """Drop the tracebacks of the gateway's own errors (a refusal, a bad argument), once
    they are answered: a traceback holds the resolvers' frames, which hold the request's
    execution, which holds the error: a cycle per refused field, left for the garbage
    collector, whose young-generation passes then stall every tenant's requests. Their
    traces are never logged; unexpected errors keep theirs."""
    for error in result.errors or ():
        original = error.original_error
        if isinstance(original, GatewayError):
            error.__traceback__ = None
            original.__traceback__ = None


def _release_loaders(request: object) -> None:
    if isinstance(request, Request):
        loaders: Loaders | None = request.scope["state"].pop("loaders", None)
        if loaders is not None:
            loaders.release()


def routes(settings: Settings, schema: BaseSchema) -> list[BaseRoute]:
    view = GatewayGraphQL(settings, schema)
    return [Route("/graphql", view, methods=["GET", "POST"]), WebSocketRoute("/graphql", view)]
