"""What every REST handler shares: its services, its caller, JSON in and out, errors.

Every error body, REST or GraphQL, has one shape:
`{"errors": [{"message": ..., "extensions": {"code": ..., ...}}]}`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from analytics_gateway import query_cost
from analytics_gateway.auth import credential_from, require
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BadUserInput, GatewayError, Unauthenticated
from analytics_gateway.observability import client_error
from analytics_gateway.query_cost import QueryCost
from analytics_gateway.services import Services

Handler = Callable[[Request], Awaitable[Response]]


def services_of(connection: HTTPConnection) -> Services:
    """The app's services, handed to every request as lifespan state."""
    return cast(Services, connection.state.services)


def client_address(connection: HTTPConnection) -> str:
    """Where a request came from, as the audit trail names the source of a refusal."""
    return connection.client.host if connection.client is not None else "unknown"


def error_body(message: str, extensions: Mapping[str, Any]) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": dict(extensions)}]}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def error_response(exc: GatewayError) -> Response:
    return json_response(error_body(*client_error(exc)), exc.http_status, retry_after(exc))


async def refusal_response(request: Request, exc: GatewayError) -> Response:
    """The answer to a refused request: noted for the audit, and held while the tenant
    waits when it is a refusal for a rate (`Quotas.hold_refusal`)."""
    services = services_of(request)
    services.audit.note_refusal(exc, client_address(request))
    return error_response(await services.quotas.hold_refusal(exc))


def cost_header(loaders: Loaders) -> dict[str, str]:
    """`Query-Cost`: the estimated points the request read (`query_cost`)."""
    return {"Query-Cost": str(loaders.cost.points if loaders.cost else 0)}


def retry_after(exc: GatewayError) -> dict[str, str] | None:
    """`Retry-After` for a refusal that says when to come back."""
    seconds = exc.extensions.get("retryAfter")
    return {"Retry-After": str(seconds)} if seconds is not None else None


def guarded(handler: Handler) -> Handler:
    """The handler, with gateway errors answered as their status and `extensions.code`."""

    async def wrapped(request: Request) -> Response:
        try:
            async with contextlib.AsyncExitStack() as held:
                request.state.held = held  # what `principal_of` takes for the request's length
                return await handler(request)
        except GatewayError as exc:  # the request slot given back: an answer may be held
            return await refusal_response(request, exc)

    return wrapped


async def json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadUserInput(f"body is not valid JSON: {exc}") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise BadUserInput("body must be a JSON object")
    return body


def _basic_password(encoded: str) -> str:
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials are not valid base64 'user:key'") from None
    return password


async def principal_of(request: Request, scope: Scope) -> Principal:
    """The caller, if its key holds `scope` (InfluxDB clients' `Token`, Basic with the
    key as password, and `?p=` too)."""
    headers = dict(request.headers)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("token "):  # InfluxDB v2 clients
        headers["authorization"] = "Bearer " + auth[6:]
    elif auth.lower().startswith("basic "):  # v1 clients (Telegraf): user, and the key
        headers["authorization"] = "Bearer " + _basic_password(auth[6:])
    key = credential_from(headers) or request.query_params.get("p")  # v1: ?u=&p=
    services = services_of(request)
    # a tenant flooding past its rate (a read, past its query-point rate too): refused
    # before any store call
    reads = ("query_point_burst",) if scope is Scope.READ else ()
    services.quotas.refuse_while_waiting(services.auth.recent_tenant(key), "request_burst", *reads)
    principal = require(await services.auth.authenticate(key), scope)
    await services.quotas.admit_request(principal.tenant)
    # behaviour reads of this request find their cost (this request's task)
    query_cost.bind(QueryCost(principal.tenant, services.quotas))
    held: contextlib.AsyncExitStack | None = getattr(request.state, "held", None)
    if held is not None:  # a route behind `guarded`: one of the tenant's request slots
        await held.enter_async_context(services.quotas.running(principal.tenant))
    return principal
