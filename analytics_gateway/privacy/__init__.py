"""Personal data: erasure of a user, pseudonymous user ids, per-tenant retention,
sensitive event metadata keys (sealed at ingest).

`Privacy` holds them for the services; see each module for what it does
to which store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from analytics_gateway.backends.base import Cache, MetricStore
from analytics_gateway.backends.factory import Backends
from analytics_gateway.behaviour import cache as behaviour_cache
from analytics_gateway.config import Settings
from analytics_gateway.crypto.envelope import Secrets
from analytics_gateway.crypto.keyring import keyring_for
from analytics_gateway.dataloaders.query_cache import bump
from analytics_gateway.privacy.erasure import Erasure
from analytics_gateway.privacy.pseudonymise import Pseudonyms
from analytics_gateway.privacy.retention import Retention
from analytics_gateway.privacy.sensitive import SensitiveKeys

__all__ = [
    "Erasure",
    "Privacy",
    "Pseudonyms",
    "Retention",
    "SensitiveKeys",
    "build_privacy",
    "tenant_invalidation",
]


@dataclass(frozen=True)
class Privacy:
    pseudonyms: Pseudonyms
    erasure: Erasure
    retention: Retention
    sensitive: SensitiveKeys


def tenant_invalidation(cache: Cache, metrics: MetricStore) -> Callable[[str], Awaitable[None]]:
    """Every cached answer of a tenant made stale: the ingest listener's generation bump
    (`query_cache.bump`), for each of the tenant's metrics, and its events generation
    (`behaviour.cache.bump`)."""

    async def invalidate(tenant: str) -> None:
        await behaviour_cache.bump(cache, tenant)
        await bump(cache, tenant, await metrics.metric_names(tenant, None))

    return invalidate


def backend_name(url: str) -> str:
    """`duckdb`, `elasticsearch`...: the store a URL picks, for receipts."""
    return urlparse(url).scheme.split("+", 1)[0] or "events"


def build_privacy(settings: Settings, backends: Backends, clock: Callable[[], int]) -> Privacy:
    pseudonyms = Pseudonyms(settings.pseudonymise_secret if settings.pseudonymise_users else None)
    invalidate = tenant_invalidation(backends.cache, backends.metrics)
    return Privacy(
        pseudonyms=pseudonyms,
        erasure=Erasure(
            backends.events,
            backend_name(settings.resolved_events_url),
            backends.broker,
            invalidate,
            pseudonyms,
            clock,
        ),
        retention=Retention(
            backends.config,
            backends.metrics,
            backends.events,
            invalidate,
            clock,
            batch=settings.retention_batch,
            tenant_seconds=settings.request_timeout_seconds,
        ),
        sensitive=SensitiveKeys(
            backends.config,
            Secrets(keyring_for(settings), allow_plaintext=settings.allow_plaintext_secrets),
        ),
    )
