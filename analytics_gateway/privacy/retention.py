"""Per-tenant retention of events and metrics, enforced in every store by rounds.

`setRetention` keeps one document per tenant (kind `retention`) in the config
store, so every replica enforces the same policy. A round visits each tenant
with a policy and, per store, deletes the tenant's data older than its
retention: DuckDB `DELETE`s, Elasticsearch `_delete_by_query`, an InfluxQL
`DELETE` on the `@tenant` tag. Work is bounded so that one tenant's backlog
cannot starve the others: at most `batch` rows per tenant and store in a round
(InfluxDB's `DELETE` takes no bound, it is one statement per tenant), each
tenant's deletes under a time limit, failures logged and the round going on,
and each round starting one tenant further along than the last. What is left
over goes in the next round. Deleting old points or events changes past-range answers,
so the tenant's query cache is invalidated after a round deleted any.

Every replica runs rounds; the deletes are idempotent, so replicas racing on
a tenant only repeat a cheap no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from analytics_gateway.backends.base import ConfigStore, EventStore, MetricStore
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, GatewayError

log = logging.getLogger(__name__)

KIND = "retention"
DOC_ID = "policy"
MIN_RETENTION_MS = 3_600_000  # an hour: a typo ("90m" for "90d") must not wipe a tenant


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a tenant's events and metrics are kept; None: forever."""

    events: str | None = None
    metrics: str | None = None

    @property
    def events_ms(self) -> int | None:
        return parse_duration_ms(self.events) if self.events else None

    @property
    def metrics_ms(self) -> int | None:
        return parse_duration_ms(self.metrics) if self.metrics else None


@dataclass(frozen=True)
class TenantRound:
    """What one round deleted for a tenant; None: the store does not count."""

    events: int = 0
    points: int | None = 0


def checked(text: str | None, field: str) -> str | None:
    if text is None or not text.strip():
        return None
    if parse_duration_ms(text, field=field) < MIN_RETENTION_MS:
        raise BadUserInput(f"{field}: retention must be at least 1h", field=field)
    return text.strip()


class Retention:
    def __init__(
        self,
        config: ConfigStore,
        metrics: MetricStore,
        events: EventStore,
        invalidate: Callable[[str], Awaitable[None]],
        clock: Callable[[], int],
        *,
        batch: int = 50_000,
        tenant_seconds: float = 30.0,
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._events = events
        self._invalidate = invalidate
        self._clock = clock
        self._batch = batch
        self._tenant_seconds = tenant_seconds
        self._offset = 0

    async def policy(self, tenant: str) -> RetentionPolicy:
        found = await self._config.get_document(KIND, tenant, DOC_ID)
        if found is None:
            return RetentionPolicy()
        doc = found[1]
        return RetentionPolicy(events=doc.get("events"), metrics=doc.get("metrics"))

    async def set(self, tenant: str, events: str | None, metrics: str | None) -> RetentionPolicy:
        """Replace the tenant's policy; both None keeps everything forever."""
        policy = RetentionPolicy(checked(events, "events"), checked(metrics, "metrics"))
        if policy.events is None and policy.metrics is None:
            await self._config.delete_document(KIND, tenant, DOC_ID)
        else:
            doc = {"events": policy.events, "metrics": policy.metrics}
            await self._config.put_document(KIND, tenant, DOC_ID, doc)
        return policy

    async def run_round(self) -> dict[str, TenantRound]:
        """One pass over every tenant with a policy, bounded per tenant."""
        tenants = sorted(await self._config.document_tenants(KIND))
        if not tenants:
            return {}
        start = self._offset % len(tenants)
        self._offset = start + 1
        done: dict[str, TenantRound] = {}
        for tenant in tenants[start:] + tenants[:start]:
            try:
                async with asyncio.timeout(self._tenant_seconds):
                    done[tenant] = await self._enforce(tenant)
            except (GatewayError, TimeoutError) as exc:
                log.warning("retention of tenant %s: %s; next round goes on", tenant, exc)
        return done

    async def _enforce(self, tenant: str) -> TenantRound:
        policy = await self.policy(tenant)
        now = self._clock()
        events = 0
        if policy.events_ms is not None:
            events = await self._events.delete_events_before(
                tenant, now - policy.events_ms, self._batch
            )
        points: int | None = 0
        if policy.metrics_ms is not None:
            points = await self._metrics.delete_points_before(
                tenant, now - policy.metrics_ms, self._batch
            )
        if events or points != 0:  # some points, or the store cannot say
            await self._invalidate(tenant)
        if events or points:
            log.info("retention of tenant %s: %s events, %s points", tenant, events, points)
        return TenantRound(events, points)

    async def run_forever(self, interval_seconds: float) -> None:
        """Rounds every `interval_seconds`, from the first one right after the start."""
        while True:
            try:
                await self.run_round()
            except GatewayError as exc:  # the config store is down: try again next time
                log.warning("retention round skipped: %s", exc)
            except Exception:  # a bug must not end retention for good
                log.exception("retention round failed; the next one runs as planned")
            await asyncio.sleep(interval_seconds)
