"""Per-tenant rate limits and quotas, so no tenant can take the gateway from the others.

Rates (requests, ingested points and events, each per second with a burst)
are token buckets: in Redis when the cache is on Redis, so every replica
draws from the same bucket, in this process otherwise (and, for a few seconds,
while Redis does not answer). Quotas cap what a tenant holds: alert rules,
channels, dashboards, models, active series per hour, and the WebSocket
connections, subscriptions, requests and ML jobs at once in this process.

Defaults come from `ANALYTICS_QUOTAS` ("name=value,...") and protect a 2-core
gateway out of the box; operators raise or lower them per tenant with
`analytics-gateway quotas set`, which writes a document the replicas re-read
within `REFRESH_SECONDS`. Tenants cannot change their own.

Refusals are `RATE_LIMITED` (with how long to wait: `Retry-After` over HTTP,
`extensions.retryAfter` in GraphQL) and `QUOTA_EXCEEDED`. A tenant refused for
its request, query-point or ingested-point rate is refused again, without
asking its bucket, until the wait it was given is over (`refuse_while_waiting`):
a flood past the limit then costs neither an API-key lookup, nor a count of
series, nor the reading and counting of a big write's body per request, work
that other tenants' requests would otherwise queue behind. Over HTTP, the
answer to such a refusal is held until the wait is over (at most
`HOLD_REFUSAL_SECONDS`, `hold_refusal`): a client that sends its next request
once answered, Retry-After or not, then sends one per wait on each connection,
not as many as the gateway can refuse.

The operator tenant (`ANALYTICS_SELF_TENANT`) starts from more room
(`operator_quotas`): every gateway stores its own figures there, and every
host's agent pushes into it, so a fleet must not exhaust a quota sized for one
application. Overrides set for it apply on top, as for any tenant.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from analytics_gateway.backends.base import Buckets, ConfigStore
from analytics_gateway.backends.buckets import MemoryBuckets
from analytics_gateway.config import Settings
from analytics_gateway.errors import (
    BackendUnavailable,
    BadUserInput,
    GatewayError,
    QuotaExceeded,
    RateLimited,
    RateWait,
)
from analytics_gateway.keyed_locks import KeyedLocks
from analytics_gateway.tenant_slots import TenantSlots

log = logging.getLogger(__name__)

KIND, DOC_ID = "quota", "limits"
REFRESH_SECONDS = 30.0
MAX_WAITING = 16  # requests waiting in line per running one, beyond which RATE_LIMITED
SERIES_WINDOW_SECONDS = 3600
# a refusal's HTTP answer waits out the tenant's wait, up to this long: a flood
# past the rate that waits for its answers (ignoring Retry-After) then sends a
# request per connection per wait, where it sent hundreds a second, each costing
# the gateway about half a millisecond of CPU (bench: isolation)
HOLD_REFUSAL_SECONDS = 1.0
# answers held at once per tenant in this process; beyond, answered at once: as
# many as a tenant may have running and waiting in line (4 x `MAX_WAITING`)
MAX_HELD_REFUSALS = 64


@dataclass(frozen=True)
class TenantQuotas:
    """What one tenant may do; every field can be set per tenant."""

    requests_per_second: float = 100.0
    request_burst: float = 200.0
    points_per_second: float = 20_000.0  # a tenth of what one process writes
    point_burst: float = 50_000.0  # the largest batch (ANALYTICS_MAX_BATCH_SIZE)
    events_per_second: float = 5_000.0
    event_burst: float = 50_000.0
    active_series: int = 100_000  # distinct series written in an hour
    connections: int = 100  # WebSocket connections to one process
    subscriptions: int = 1_000  # live subscriptions in one process
    alert_rules: int = 1_000
    channels: int = 50
    dashboards: int = 500
    models: int = 100
    ml_jobs: int = 1  # ML jobs (fits, detections, forecasts) running at once
    # requests running at once in one process (the rest wait in line): with the
    # store's threads and the event loop shared, not all of them for one tenant
    concurrent_requests: int = 4
    # heavy reads (`query_cost.HEAVY_READ_POINTS` or more) running at once in one
    # process, the rest wait in line: each keeps the store busy on every core for
    # tens of milliseconds, and a tenant's several side by side left every other
    # tenant's small reads waiting (bench: isolation)
    heavy_reads: int = 1
    query_points: int = 2_000_000  # estimated points one request may read (`query_cost`)
    # all its requests together: a fraction of what one core serialises, and a burst
    query_points_per_second: float = 250_000.0
    query_point_burst: float = 2_000_000.0

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, text: str) -> TenantQuotas:
        """`"requests_per_second=500, points_per_second=1e5"` over the defaults."""
        try:
            return cls().updated(parse_assignments(text.split(",")))
        except (ValueError, BadUserInput) as exc:
            raise ValueError(f"ANALYTICS_QUOTAS: {exc}") from None

    def updated(self, changes: Mapping[str, Any]) -> TenantQuotas:
        """A copy with `changes` checked: known names, positive numbers."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in self.names():
                raise BadUserInput(f"unknown quota {name!r}; use one of {', '.join(self.names())}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise BadUserInput(f"quota {name!r} must be a positive number")
            kind = type(getattr(self, name))
            values[name] = kind(value)
        return dataclasses.replace(self, **values)


OPERATOR_ROOM = 10
"""The operator tenant's request and point rates and active series, times the defaults."""


def operator_quotas(defaults: TenantQuotas) -> TenantQuotas:
    """What the operator tenant starts from: `OPERATOR_ROOM` times the defaults' request
    and point rates, bursts and active series (a thousand hosts' agents every 10 s,
    and every replica's own figures), and four times the concurrent requests and heavy reads."""
    scaled = (
        "requests_per_second",
        "request_burst",
        "points_per_second",
        "point_burst",
        "active_series",
    )
    changes: dict[str, float] = {name: getattr(defaults, name) * OPERATOR_ROOM for name in scaled}
    changes["concurrent_requests"] = defaults.concurrent_requests * 4
    changes["heavy_reads"] = defaults.heavy_reads * 4
    return defaults.updated(changes)


def parse_assignments(items: Iterable[str]) -> dict[str, float]:
    """`["name=number", ...]` as a mapping; blank items are skipped."""
    changes: dict[str, float] = {}
    for item in (part.strip() for part in items):
        if not item:
            continue
        name, sep, value = item.partition("=")
        try:
            changes[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{item!r} is not name=number") from None
        if not sep:
            raise ValueError(f"{item!r} is not name=number")
    return changes


EARLY_REFUSALS = frozenset({"request_burst", "query_point_burst", "point_burst"})


def _rate_limited(wait: RateWait, now: float) -> RateLimited:
    retry = max(1, math.ceil(wait.until - now))
    refusal = RateLimited(
        f"too many {wait.what} for this tenant ({wait.rate:g}/s); retry in {retry} s",
        retryAfter=retry,
    )
    refusal.wait = wait
    return refusal


class Quotas:
    def __init__(
        self,
        defaults: TenantQuotas,
        config: ConfigStore,
        buckets: Buckets | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        bases: Mapping[str, TenantQuotas] | None = None,
    ) -> None:
        self.defaults = defaults
        # tenants that start from other quotas than the defaults (the operator's)
        self._bases = dict(bases or {})
        self._config = config
        self._buckets: Buckets = buckets if buckets is not None else MemoryBuckets()
        self._clock = clock
        self._cached: dict[str, tuple[float, TenantQuotas]] = {}
        self._connections: dict[str, int] = {}
        self._subscriptions: dict[str, int] = {}
        self._series: dict[str, tuple[int, set[str]]] = {}  # tenant -> (hour, series keys)
        self._requests = TenantSlots(self._concurrent_requests, "requests", MAX_WAITING)
        # no limit on those waiting: each holds one of its tenant's request slots
        self._heavy_reads = TenantSlots(self._heavy_reads_allowed, "heavy reads")
        # (tenant, bucket) -> the last refusal's wait
        self._refused: dict[tuple[str, str], RateWait] = {}
        self._held: dict[str, int] = {}  # tenant -> refusals whose answer is held
        self._creating = KeyedLocks()

    @classmethod
    def of_settings(
        cls, settings: Settings, config: ConfigStore, buckets: Buckets | None = None
    ) -> Quotas:
        """The gateway's quotas: `ANALYTICS_QUOTAS` over the built-in defaults, and the
        operator tenant's room over those."""
        defaults = TenantQuotas.parse(settings.quotas)
        return cls(
            defaults, config, buckets, bases={settings.self_tenant: operator_quotas(defaults)}
        )

    # -- what applies to a tenant ---------------------------------------------------------

    async def of(self, tenant: str) -> TenantQuotas:
        cached = self._cached.get(tenant)
        now = self._clock()
        if cached is not None and now - cached[0] < REFRESH_SECONDS:
            return cached[1]
        try:
            found = await self._config.get_document(KIND, tenant, DOC_ID)
        except BackendUnavailable as exc:
            # a config-store blip: what the tenant had (else the defaults), asked
            # again after the next refresh period rather than on every request
            quotas = cached[1] if cached is not None else self.base(tenant)
            log.warning(
                "quotas of %s: config store unavailable (%s); using the last known", tenant, exc
            )
            self._cached[tenant] = (now, quotas)
            return quotas
        base = self.base(tenant)
        quotas = base.updated(found[1]) if found else base
        self._cached[tenant] = (now, quotas)
        return quotas

    def base(self, tenant: str) -> TenantQuotas:
        """What `tenant` has without overrides: the defaults, or more for the operator's."""
        return self._bases.get(tenant, self.defaults)

    async def override(self, tenant: str, changes: Mapping[str, Any]) -> TenantQuotas:
        """Operators only (the CLI): the tenant's overrides, merged with what it had."""
        found = await self._config.get_document(KIND, tenant, DOC_ID)
        current = dict(found[1]) if found else {}
        merged = {**current, **changes}
        quotas = self.base(tenant).updated(merged)  # checks every value
        await self._config.put_document(
            KIND, tenant, DOC_ID, merged, expected_version=found[0] if found else 0
        )
        self._cached.pop(tenant, None)
        return quotas

    async def overrides(self, tenant: str) -> dict[str, Any]:
        """What an operator set for the tenant (empty: the defaults apply)."""
        found = await self._config.get_document(KIND, tenant, DOC_ID)
        return dict(found[1]) if found else {}

    async def reset(self, tenant: str) -> bool:
        """Operators only: back to the defaults."""
        self._cached.pop(tenant, None)
        return await self._config.delete_document(KIND, tenant, DOC_ID)

    async def _concurrent_requests(self, tenant: str) -> int:
        return (await self.of(tenant)).concurrent_requests

    def running(self, tenant: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's request slots while a request runs (see `tenant_slots`)."""
        return self._requests.slot(tenant)

    async def _heavy_reads_allowed(self, tenant: str) -> int:
        return (await self.of(tenant)).heavy_reads

    def reading_heavy(self, tenant: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's heavy-read slots while a heavy read runs."""
        return self._heavy_reads.slot(tenant)

    def heavy_reads_of(self, tenant: str) -> int:
        """The tenant's heavy reads running or waiting for a slot, in this process."""
        return self._heavy_reads.in_use(tenant)

    # -- rates ------------------------------------------------------------------------------

    async def _take(
        self, tenant: str, what: str, rate: float, burst: float, amount: float, quota: str
    ) -> None:
        if amount > burst:
            raise QuotaExceeded(
                f"{amount:g} {what} at once is more than this tenant's burst of {burst:g}; "
                "send smaller batches",
                quota=quota,
                limit=burst,
            )
        wait = await self._buckets.take(f"{tenant}:{quota}", rate, burst, amount)
        if wait > 0:
            now = self._clock()
            refused = RateWait(tenant, what, rate, now + wait)
            if quota in EARLY_REFUSALS:
                self._refused[(tenant, quota)] = refused
            raise _rate_limited(refused, now)

    def refuse_while_waiting(self, tenant: str | None, *quotas: str) -> None:
        """RATE_LIMITED, without a bucket call, while `tenant`'s last refusal for any of
        `quotas` (`request_burst` when none is named, `query_point_burst`, `point_burst`)
        says to wait; nothing otherwise."""
        if tenant is None:
            return
        for quota in quotas or ("request_burst",):
            refused = self._refused.get((tenant, quota))
            if refused is None:
                continue
            now = self._clock()
            if refused.until <= now:
                del self._refused[(tenant, quota)]
                continue
            raise _rate_limited(refused, now)

    async def hold_refusal(self, refusal: GatewayError) -> GatewayError:
        """Before an HTTP answer: a refusal for a tenant's rate once its wait is over (at
        most `HOLD_REFUSAL_SECONDS`, and at once beyond `MAX_HELD_REFUSALS` held for the
        tenant), its Retry-After what is left; any other error as it is."""
        wait = refusal.wait if isinstance(refusal, RateLimited) else None
        if wait is None or self._held.get(wait.tenant, 0) >= MAX_HELD_REFUSALS:
            return refusal
        self._held[wait.tenant] = self._held.get(wait.tenant, 0) + 1
        try:
            await asyncio.sleep(min(wait.until - self._clock(), HOLD_REFUSAL_SECONDS))
        finally:
            left = self._held.pop(wait.tenant) - 1
            if left:
                self._held[wait.tenant] = left
        return _rate_limited(wait, self._clock())

    def held_refusals(self, tenant: str) -> int:
        """Refusals of `tenant` whose answer is being held, in this process."""
        return self._held.get(tenant, 0)

    async def admit_request(self, tenant: str) -> None:
        self.refuse_while_waiting(tenant)
        q = await self.of(tenant)
        await self._take(
            tenant, "requests", q.requests_per_second, q.request_burst, 1, "request_burst"
        )

    async def admit_points(self, tenant: str, count: int) -> None:
        if count > 0:
            self.refuse_while_waiting(tenant, "point_burst")
            q = await self.of(tenant)
            await self._take(
                tenant, "points", q.points_per_second, q.point_burst, count, "point_burst"
            )

    async def admit_events(self, tenant: str, count: int) -> None:
        if count > 0:
            q = await self.of(tenant)
            await self._take(
                tenant, "events", q.events_per_second, q.event_burst, count, "event_burst"
            )

    async def admit_query_points(self, tenant: str, points: int) -> None:
        if points:
            q = await self.of(tenant)
            await self._take(
                tenant,
                "query points",
                q.query_points_per_second,
                q.query_point_burst,
                points,
                "query_point_burst",
            )

    # -- what a tenant holds ----------------------------------------------------------------

    def creating(self, tenant: str, kind: str) -> AbstractAsyncContextManager[None]:
        """Held across counting what `tenant` holds of `kind`, checking it and storing one
        more, so that concurrent creates cannot all pass one count (see `keyed_locks`)."""
        return self._creating.hold((tenant, kind))

    async def check_count(self, tenant: str, kind: str, held: int) -> None:
        """Before creating one more `kind` (alert_rules, channels, dashboards, models)."""
        limit = int(getattr(await self.of(tenant), kind))
        if held >= limit:
            raise QuotaExceeded(
                f"this tenant has {held} {kind.replace('_', ' ')}, its quota; delete some "
                "or ask an operator for more",
                quota=kind,
                limit=limit,
            )

    async def admit_series(self, tenant: str, keys: Iterable[str]) -> set[str]:
        """The series keys refused: new ones beyond the tenant's active series this hour."""
        limit = (await self.of(tenant)).active_series
        hour = int(time.time()) // SERIES_WINDOW_SECONDS
        seen_hour, seen = self._series.get(tenant, (hour, set()))
        if seen_hour != hour:
            seen = set()
        refused = set()
        for key in keys:
            if key in seen:
                continue
            if len(seen) >= limit:
                refused.add(key)
            else:
                seen.add(key)
        self._series[tenant] = (hour, seen)
        return refused

    async def open_connection(self, tenant: str) -> None:
        limit = (await self.of(tenant)).connections
        _hold(self._connections, tenant, limit, "connections", "WebSocket connections open")

    def close_connection(self, tenant: str) -> None:
        _release(self._connections, tenant)

    async def open_subscription(self, tenant: str) -> None:
        limit = (await self.of(tenant)).subscriptions
        _hold(self._subscriptions, tenant, limit, "subscriptions", "live subscriptions")

    def close_subscription(self, tenant: str) -> None:
        _release(self._subscriptions, tenant)


def _hold(counts: dict[str, int], tenant: str, limit: int, quota: str, what: str) -> None:
    """One more of what `counts` holds for `tenant`, unless it already holds `limit`."""
    if counts.get(tenant, 0) >= limit:
        raise QuotaExceeded(
            f"this tenant has {limit} {what} here, its quota",
            quota=quota,
            limit=limit,
        )
    counts[tenant] = counts.get(tenant, 0) + 1


def _release(counts: dict[str, int], tenant: str) -> None:
    left = counts.get(tenant, 1) - 1
    if left > 0:
        counts[tenant] = left
    else:
        counts.pop(tenant, None)
