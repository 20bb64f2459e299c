"""graphql-transport-ws handling that runs subscriptions in shared cohorts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from analytics_gateway.context import Context, operation_loaders
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal
from analytics_gateway.errors import GatewayError, QuotaExceeded, RateLimited
from analytics_gateway.observability import client_error

MAX_CLOSE_REASON_BYTES = 123  # what a WebSocket close frame holds


@functools.lru_cache(maxsize=1024)
def is_subscription(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """Whether the operation is a subscription; parsing stops at the token limit."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        ):
            return definition.operation == OperationType.SUBSCRIPTION
    return False


class CohortTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    _expiry: asyncio.Task[None] | None = None
    """Closes the connection when its credential expires."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except (RateLimited, QuotaExceeded) as exc:
            # 4429 and the reason, so a client knows to back off instead of fixing its key
            reason = f"{exc.code}: {exc.message}".encode()[:MAX_CLOSE_REASON_BYTES]
            await self.websocket.close(4429, reason.decode(errors="ignore"))
            return
        principal = self.context.principal
        if self.connection_acknowledged and principal is not None:

            async def close() -> None:
                await self.websocket.close(4403, "API key revoked")

            self.context.services.sessions.add(principal.key_id, id(self), close)
            if principal.expires_at_ms is not None:
                self._expiry = asyncio.create_task(
                    self._close_at(principal.expires_at_ms), name="ws-credential-expiry"
                )

    async def _close_at(self, expires_at_ms: int) -> None:
        """Close the connection with 4401 when its credential (token or key) expires."""
        await asyncio.sleep(max(0.0, (expires_at_ms - self.context.services.clock()) / 1000))
        with contextlib.suppress(Exception):
            await self.websocket.close(4401, "credentials expired")

    async def shutdown(self) -> None:
        if self._expiry is not None and self._expiry is not asyncio.current_task():
            self._expiry.cancel()
        principal = self.context.principal
        if principal is not None:
            self.context.services.sessions.discard(principal.key_id, id(self))
            self.context.services.quotas.close_connection(principal.tenant)
            self.context.principal = None  # released once, however often this runs
        await super().shutdown()

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        context = self.context
        principal = context.principal
        if principal is None:
            await super().run_operation(operation)
            return
        max_tokens = context.services.settings.limits.max_tokens
        subscription = is_subscription(operation.query, operation.operation_name, max_tokens)
        quotas = context.services.quotas
        async with contextlib.AsyncExitStack() as held:
            try:
                # each operation is a request: a burst of subscribes (each validated on
                # the event loop) is held to the tenant's request rate like any other
                await quotas.admit_request(principal.tenant)
                if subscription:
                    await quotas.open_subscription(principal.tenant)
                else:  # a query or mutation holds a request slot while it runs
                    await held.enter_async_context(quotas.running(principal.tenant))
            except GatewayError as exc:
                message, extensions = client_error(exc)
                await operation.send_operation_message(
                    {
                        "id": operation.id,
                        "type": "error",
                        "payload": [{"message": message, "extensions": extensions}],
                    }
                )
                return
            if not subscription:
                # loaders of its own: costed as one request, memoising only its reads
                loaders = Loaders.for_request(context.services, principal.tenant)
                with operation_loaders(loaders):
                    await super().run_operation(operation)
                return
        try:
            await self._run_subscription(operation, principal)
        finally:
            quotas.close_subscription(principal.tenant)

    async def _run_subscription(
        self, operation: Operation[Context, None], principal: Principal
    ) -> None:
        context = self.context
        key: tuple[Any, ...] = (
            principal.tenant,
            principal.scopes,
            operation.query,
            orjson.dumps(operation.variables or {}, option=orjson.OPT_SORT_KEYS),
            operation.operation_name,
        )
        if "since" in operation.query:
            # a replay is this subscriber's own: a cohort that already ran would skip it
            key = (*key, id(self), operation.id)

        async def stream() -> Any:
            return await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        registry = context.services.cohorts
        async with registry.membership(key, operation.id, stream) as member:
            assert isinstance(self.websocket, ASGIWebSocketAdapter)
            ws = self.websocket.ws
            async for frame in member.frames():
                await ws.send_text(frame)
        final = member.final
        if final is None:
            return
        kind, payload = final
        if kind == "error":
            await operation.send_operation_message(
                {"id": operation.id, "type": "error", "payload": orjson.loads(payload)}
            )
        else:
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
