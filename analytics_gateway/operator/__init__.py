"""What the operator does to the running gateway: log levels for a while, profiles.

Only an admin key of the operator's tenant (`ANALYTICS_SELF_TENANT`) may: these
act on the whole process, and every tenant shares it.
"""

from __future__ import annotations

from analytics_gateway.auth import require
from analytics_gateway.config import Settings
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import Forbidden


def require_operator(principal: Principal | None, settings: Settings) -> Principal:
    caller = require(principal, Scope.ADMIN)
    if caller.tenant != settings.self_tenant:
        raise Forbidden(
            "only an admin key of the operator's tenant may change the process "
            "(ANALYTICS_SELF_TENANT)",
            scope=Scope.ADMIN.value,
        )
    return caller
