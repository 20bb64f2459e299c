"""The typed per-request context: who is calling, loaders, services.

Over HTTP a context serves one request. A WebSocket connection has one
context for all its operations, so each operation gets loaders of its own
(`operation_loaders`): costed against the tenant's budget one operation at a
time, memoising only what that operation read, and let go when it is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import strawberry

from analytics_gateway import query_cost
from analytics_gateway.auth import require
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.services import Services

_operation_loaders: ContextVar[Loaders | None] = ContextVar("operation_loaders", default=None)


@contextmanager
def operation_loaders(loaders: Loaders) -> Iterator[None]:
    """`loaders` for the operation running in this task (each WebSocket operation
    has a task of its own); released when it ends."""
    token = _operation_loaders.set(loaders)
    try:
        with query_cost.costing(loaders.cost):
            yield
    finally:
        _operation_loaders.reset(token)
        loaders.release()


@dataclass
class Context:
    services: Services
    request_loaders: Loaders
    principal: Principal | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)

    @property
    def loaders(self) -> Loaders:
        """The running operation's loaders (see `operation_loaders`), else the request's."""
        return _operation_loaders.get() or self.request_loaders

    def require(self, scope: Scope) -> Principal:
        """The caller, if it holds `scope`; else UNAUTHENTICATED / FORBIDDEN."""
        return require(self.principal, scope)


Info = strawberry.Info[Context, None]
