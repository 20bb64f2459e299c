"""The generated client, authenticated, and the one place its failures become ours.

`GatewayGraphQL` is the generated `GeneratedClient` with the API key on every HTTP
request (`Authorization: Bearer <key>`) and in every WebSocket `connection_init`
payload (`{"Authorization": "Bearer <key>"}`), as the gateway reads them. It also
raises on a subscription message that carries `errors`, which the generated base
client would skip while waiting for the next one.

`mapped_errors()` translates generated-client, httpx, websockets and pydantic
exceptions into the tree of `errors.py`; `Subscription` wraps a generated
subscription in it and closes its WebSocket when the caller stops early.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import httpx
import pydantic
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Data

from analytics_gateway_client.errors import (
    ClientError,
    GraphQLErrorDetail,
    TransportError,
    error_for,
)
from analytics_gateway_client.generated.async_base_client import (
    GraphQLTransportWSMessageType,
    HttpClient,
    Response,
)
from analytics_gateway_client.generated.client import GeneratedClient
from analytics_gateway_client.generated.exceptions import (
    GraphQLClientError,
    GraphQLClientGraphQLError,
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
)

T = TypeVar("T")
M = TypeVar("M")

CLOSE_UNAUTHORIZED = 4403  # connection_init refused (bad key), or the key was revoked
CLOSE_TOO_MANY = 4429  # rate limit or quota; the reason reads "<CODE>: <message>"


class GatewayGraphQL(GeneratedClient):
    """The generated client for one gateway and one API key."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        http_client: httpx.AsyncClient,
        ws_url: str,
        ws_open_timeout: float = 10.0,
    ) -> None:
        self._auth = {"Authorization": f"Bearer {api_key}"}
        super().__init__(
            url=url,
            # httpx's client is what the generated Protocol describes, keyword-only
            http_client=cast(HttpClient, http_client),
            ws_url=ws_url,
            ws_connection_init_payload=dict(self._auth),
        )
        self._ws_open_timeout = ws_open_timeout

    async def _execute_json(
        self,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any],
        **kwargs: Any,
    ) -> Response:
        headers = {**self._auth, **kwargs.pop("headers", {})}
        return await super()._execute_json(
            query, operation_name, variables, headers=headers, **kwargs
        )

    async def execute_ws(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        kwargs.setdefault("open_timeout", self._ws_open_timeout)
        stream = super().execute_ws(query, operation_name, variables, **kwargs)
        try:
            async for data in stream:
                yield data
        finally:
            await _close(stream)

    async def _handle_ws_message(
        self,
        message: Data,
        websocket: ClientConnection,
        expected_type: GraphQLTransportWSMessageType | None = None,
    ) -> dict[str, Any] | None:
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None  # the base client reports it
        if isinstance(parsed, dict) and parsed.get("type") == "next":
            payload = parsed.get("payload")
            if isinstance(payload, dict) and payload.get("errors"):
                raise GraphQLClientGraphQLMultiError.from_errors_dicts(
                    errors_dicts=payload["errors"], data=payload.get("data")
                )
        return await super()._handle_ws_message(message, websocket, expected_type)


def _detail(error: GraphQLClientGraphQLError) -> GraphQLErrorDetail:
    return GraphQLErrorDetail(
        message=error.message,
        extensions=dict(error.extensions or {}),
        path=list(error.path) if error.path is not None else None,
    )


def _details(errors: object) -> list[GraphQLErrorDetail]:
    """`errors` of a response body, read leniently."""
    if not isinstance(errors, list):
        return []
    details = []
    for error in errors:
        if isinstance(error, Mapping):
            extensions = error.get("extensions")
            details.append(
                GraphQLErrorDetail(
                    message=str(error.get("message", "")),
                    extensions=dict(extensions) if isinstance(extensions, Mapping) else {},
                    path=error.get("path"),
                )
            )
    return details


def _from_http(error: GraphQLClientHttpError) -> ClientError:
    """A non-2xx answer: the gateway's coded error when its body has one."""
    status = error.status_code
    body: object = None
    if isinstance(error.response, httpx.Response):
        with contextlib.suppress(ValueError):
            body = error.response.json()
    details = _details(body.get("errors")) if isinstance(body, Mapping) else []
    if details:
        return error_for(details, status=status)
    return TransportError(
        f"the gateway answered HTTP {status} without a GraphQL error", status=status
    )


def _from_close(closed: websockets.ConnectionClosed) -> ClientError:
    """A WebSocket the gateway (or the network) closed with an error."""
    frame = closed.rcvd
    code = frame.code if frame is not None else None
    reason = frame.reason if frame is not None else ""
    if code == CLOSE_UNAUTHORIZED:
        message = f"the gateway closed the WebSocket: {reason or 'Forbidden'} (check the API key)"
        detail = GraphQLErrorDetail(message, {"code": "UNAUTHENTICATED"})
        return error_for([detail], close_code=code)
    if code == CLOSE_TOO_MANY:
        error_code, _, message = reason.partition(": ")
        detail = GraphQLErrorDetail(message or reason, {"code": error_code or "RATE_LIMITED"})
        return error_for([detail], close_code=code)
    return TransportError(f"the subscription's WebSocket closed: {closed}", close_code=code)


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Raise what happens inside as the client's own errors (see `errors.py`)."""
    try:
        yield
    except ClientError:
        raise
    except GraphQLClientGraphQLMultiError as exc:
        data = exc.data if isinstance(exc.data, Mapping) else None
        raise error_for([_detail(e) for e in exc.errors], data=data) from exc
    except GraphQLClientHttpError as exc:
        raise _from_http(exc) from exc
    except GraphQLClientError as exc:
        raise TransportError(f"unusable answer from the gateway: {exc}") from exc
    except websockets.ConnectionClosed as exc:
        raise _from_close(exc) from exc
    except websockets.InvalidStatus as exc:
        status = exc.response.status_code
        raise TransportError(
            f"the gateway refused the WebSocket (HTTP {status})", status=status
        ) from exc
    except (websockets.WebSocketException, httpx.HTTPError, OSError, TimeoutError) as exc:
        raise TransportError(f"could not talk to the gateway: {exc!r}") from exc
    except pydantic.ValidationError as exc:
        raise TransportError(
            f"the gateway's answer does not fit this client's schema: {exc}"
        ) from exc


async def _close(stream: AsyncIterator[Any]) -> None:
    if isinstance(stream, AsyncGenerator):
        await stream.aclose()


class Subscription(Generic[T]):
    """A live stream: an async iterator over the gateway's messages, each one typed.

    Iterate it directly, or use it as an async context manager to close its
    WebSocket the moment the block ends:

        async with client.metrics.live_points("cpu_usage") as points:
            async for point in points:
                ...

    The WebSocket opens on the first `__anext__`; errors are raised as in
    `errors.py` (a `ResyncRequired` for a `since` the gateway no longer has).
    A read still waiting in another task must be cancelled (and awaited) before
    `aclose()`.
    """

    def __init__(self, source: AsyncIterator[M], pick: Callable[[M], T]) -> None:
        self._stream = self._mapped(source, pick)

    @staticmethod
    async def _mapped(source: AsyncIterator[M], pick: Callable[[M], T]) -> AsyncGenerator[T, None]:
        try:
            with mapped_errors():
                async for message in source:
                    yield pick(message)
        finally:
            await _close(source)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        """Close the WebSocket (and end the stream)."""
        await self._stream.aclose()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def required(value: T | None, what: str) -> T:
    """A nullable root field's value; null without an error is not a usable answer."""
    if value is None:
        raise TransportError(f"the gateway answered null for {what} without an error")
    return value


__all__ = [
    "GatewayGraphQL",
    "Subscription",
    "mapped_errors",
    "required",
]
