"""The typed per-request context: who is calling, loaders, services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from analytics_gateway.auth import require
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.services import Services


@dataclass
class Context:
    services: Services
    loaders: Loaders
    principal: Principal | None = None
    connection_params: dict[str, Any] = field(default_factory=dict)

    def require(self, scope: Scope) -> Principal:
        """The caller, if it holds `scope`; else UNAUTHENTICATED / FORBIDDEN."""
        return require(self.principal, scope)


Info = strawberry.Info[Context, None]
