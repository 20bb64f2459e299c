"""What the `analytics-gateway` commands record: changes made and tenants' metadata read.

A change made with the command (`keys create|revoke|rotate`, `quotas set|reset`) is as
security-relevant as the same change made through GraphQL, and is appended to the same
chain through the same code (`AuditTrail.record`) on the config store the command opened,
so `audit verify` still passes. Actions are named as the GraphQL mutations are where one
exists. The actor is `cli:<OS user>`; every entry of one run shares a request id.

Reading other tenants' metadata is recorded too (`readTenantMetadata`, target `apiKeys`
or `quotas`), one entry per tenant read, in that tenant's own chain, so the tenant sees
in its own log that an operator looked. These commands are the only way the gateway lets
anyone read another tenant's metadata: over HTTP, even the operator tenant's admin keys
read their own tenant only. `audit verify` and `audit head` read hashes, never entries'
meaning, and record nothing (an entry would move the head they report).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from analytics_gateway.audit.chain import OK
from analytics_gateway.audit.trail import AuditMetrics, AuditTrail
from analytics_gateway.auth import validate_tenant
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import BadUserInput, GatewayError

__all__ = ["OK", "Act", "CommandAudit", "cli_actor"]

READ_METADATA = "readTenantMetadata"
CREATE_KEY = "createApiKey"
REVOKE_KEY = "revokeApiKey"
ROTATE_KEY = "rotateApiKey"
SET_QUOTAS = "setQuotas"
RESET_QUOTAS = "resetQuotas"


def cli_actor() -> str:
    """`cli:<OS user>`: who ran the command, as far as this host can tell."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


@dataclass
class Act:
    """What a change concerns, filled in as the command learns it."""

    tenant: str | None = None
    target: str = ""
    outcome: str = OK
    """When the change did not raise: `ok`, or the code of a refusal it reported."""


class CommandAudit:
    """The audit trail as one run of a command records into it."""

    def __init__(
        self,
        store: ConfigStore,
        operator_tenant: str,
        *,
        actor: str | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._store = store
        self._operator_tenant = operator_tenant
        self.actor = actor or cli_actor()
        self.request_id = f"cli-{secrets.token_hex(8)}"
        self.trail = AuditTrail(
            store, clock, AuditMetrics(CollectorRegistry()), operator_tenant=operator_tenant
        )

    @contextlib.asynccontextmanager
    async def change(self, action: str, tenant: str | None = None) -> AsyncIterator[Act]:
        """Record `action` once the change is made, or with the error's code when it
        fails (under the operator's tenant when the tenant never became known)."""
        act = Act(tenant)
        try:
            yield act
        except GatewayError as exc:
            await self._record(act, action, exc.code)
            raise
        await self._record(act, action, act.outcome)

    def _chain_of(self, tenant: str | None) -> str:
        """The tenant's own chain; the operator's for a name that is not a tenant's."""
        if tenant is None:
            return self._operator_tenant
        try:
            return validate_tenant(tenant)
        except BadUserInput:
            return self._operator_tenant

    async def tenant_of_key(self, key_id: str) -> str | None:
        """The tenant of the key with this id, None when there is none."""
        return next((r.tenant for r in await self._store.list_keys() if r.key_id == key_id), None)

    async def read(self, tenants: Iterable[str], what: str) -> None:
        """Record that `what` of each of `tenants` is about to be shown."""
        for tenant in sorted(set(tenants)):
            await self.trail.record(
                tenant=self._chain_of(tenant),
                actor=self.actor,
                action=READ_METADATA,
                target=what,
                request_id=self.request_id,
                kind="command",
            )

    async def _record(self, act: Act, action: str, outcome: str) -> None:
        await self.trail.record(
            tenant=self._chain_of(act.tenant),
            actor=self.actor,
            action=action,
            target=act.target,
            request_id=self.request_id,
            outcome=outcome,
            kind="command",
        )
