"""`eraseUser`: one user's events gone from every place the gateway keeps them.

What is erased, in order, for the caller's tenant only:

1. the events store: every event whose `user_id` is the user's stored form
   (the pseudonym, and the id as sent, see `pseudonymise`), one delete that the
   next read already sees (DuckDB `DELETE`; Elasticsearch `_delete_by_query`
   on the tenant field with `refresh`);
2. the live history: the tenant's events channel keeps recent messages for
   `since` replay, and they carry user ids. Rewriting a history in place would
   renumber the positions clients hold, so the whole channel history is
   dropped instead: a subscriber resuming from before the erasure is told
   `RESYNC_REQUIRED` and reloads from the store, which no longer has the events;
3. the query cache of the tenant: it holds metric answers only (no events, no
   user ids), and is invalidated anyway through the same generation bump the
   ingest listener uses, so nothing computed before the erasure is served after it.

Not derived from events, so untouched: ML models (the registry's metadata
names the metric and labels each was fitted on; none is trained on events,
so none needs flagging for retraining) and WebSocket sessions (API keys, not
end users). Not reached: events of the user still waiting in the ingest
buffer during a store outage are written when the buffer drains; erase again
once `/readyz` reports the buffer empty.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from analytics_gateway.backends.base import Broker, EventStore
from analytics_gateway.privacy.pseudonymise import Pseudonyms
from analytics_gateway.subscriptions.channels import events_channel

log = logging.getLogger(__name__)

LIVE_HISTORY = "live-history"
MODELS = "models:recommender"
AUDIT_ACTION = "erasure"


class AuditLog(Protocol):
    """Where an erasure is recorded (`audit.AuditTrail`); `record` returns the entry id."""

    async def record(
        self,
        *,
        tenant: str,
        actor: str,
        action: str,
        target: str = "",
        request_id: str = "",
        outcome: str = ...,
        count: int = 1,
        kind: str = ...,
    ) -> str | None: ...


@dataclass(frozen=True)
class StoreCount:
    store: str
    deleted: int


@dataclass(frozen=True)
class ErasureReceipt:
    user_id: str
    erased_at_ms: int
    counts: list[StoreCount]
    audit_id: str | None


class Erasure:
    def __init__(
        self,
        events: EventStore,
        events_backend: str,
        broker: Broker,
        invalidate: Callable[[str], Awaitable[None]],
        pseudonyms: Pseudonyms,
        clock: Callable[[], int],
    ) -> None:
        self._events = events
        self._events_backend = events_backend
        self._broker = broker
        self._invalidate = invalidate
        self._pseudonyms = pseudonyms
        self._clock = clock

    async def erase(
        self,
        tenant: str,
        user_id: str,
        actor: str,
        *,
        audit: AuditLog | None = None,
        request_id: str = "",
        models: Callable[[str, list[str]], Awaitable[int]] | None = None,
    ) -> ErasureReceipt:
        """Erase, then record it in `audit`; the trail never holds the original id (see
        `audit_target`)."""
        forms = self._pseudonyms.erasable(tenant, user_id)
        deleted = await self._events.delete_events(tenant, forms)
        dropped = await self._broker.forget_history(events_channel(tenant))
        await self._invalidate(tenant)
        # models that keep per-user histories (recommenders) lose this user's at once
        cleaned = await models(tenant, forms) if models is not None else None
        audit_id = None
        if audit is not None:
            audit_id = await audit.record(
                tenant=tenant,
                actor=actor,
                action=AUDIT_ACTION,
                target=audit_target(tenant, user_id, forms),
                request_id=request_id,
                count=deleted,
                kind=AUDIT_ACTION,
            )
        receipt = ErasureReceipt(
            user_id=user_id,
            erased_at_ms=self._clock(),
            counts=[
                StoreCount(f"events:{self._events_backend}", deleted),
                StoreCount(LIVE_HISTORY, dropped),
                *([StoreCount(MODELS, cleaned)] if cleaned is not None else []),
            ],
            audit_id=audit_id,
        )
        log.info(
            "erased a user of tenant %s: %d events, %d live messages", tenant, deleted, dropped
        )
        return receipt


def audit_target(tenant: str, user_id: str, forms: list[str]) -> str:
    """How the audit trail names an erased user: the pseudonym when pseudonymisation is
    on, else a digest of the id, so the entry proves which user was erased to someone
    who knows the id, and tells nobody else."""
    if forms[0] != user_id:
        return forms[0]
    return "sha256:" + hashlib.sha256(f"{tenant}\n{user_id}".encode()).hexdigest()
