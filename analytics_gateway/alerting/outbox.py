"""The durable outbox: notifications survive crashes and receiver outages, and go once.

The evaluator queues a notification (create-only, by its deterministic id)
before it stores the state change that caused it, so a crash in between
re-creates the same id, which the outbox refuses. A dispatcher then claims
due entries (a versioned write: on several replicas one claim wins), sends
them, and records the result under the same id (`alert_sent`), which also
blocks any later re-queue of that id. Failures are retried with exponential
backoff until `max_age_ms`; a permanent failure (e.g. HTTP 400) or age ends
the entry as failed. A sender that dies mid-send leaves its claim to expire,
then the entry is sent again: at-least-once at that one point, which is why
every notification carries its id for the receiver to deduplicate.

Channels are isolated from each other: each (tenant, channel) with due entries
gets a worker of its own that sends them one at a time, and a dispatch round
starts workers without waiting for any. A receiver that accepts connections
and never answers holds only its own channel's worker, one attempt timeout
(capped by the senders) at a time; every other channel, of every tenant, is
delivered meanwhile. At most `MAX_CHANNELS_IN_FLIGHT` workers run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from analytics_gateway import tracing
from analytics_gateway.alerting.channels.base import DeliveryError, Outcome
from analytics_gateway.alerting.channels.registry import Senders
from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.model import Channel
from analytics_gateway.alerting.store import AlertDocuments
from analytics_gateway.background import on_wake_or_tick
from analytics_gateway.crypto.envelope import SecretUnreadable
from analytics_gateway.errors import Conflict

log = logging.getLogger(__name__)

BASE_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 5 * 60_000
MAX_AGE_MS = 24 * 3_600_000
CLAIM_MS = 60_000
SENT_RETENTION_MS = 7 * 86_400_000
MAX_CHANNELS_IN_FLIGHT = 64

Due = tuple[str, str, int, dict[str, Any]]  # (tenant, entry id, version, entry)


def backoff_ms(attempts: int) -> int:
    return int(min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** max(0, attempts - 1)))


class Outbox:
    def __init__(
        self,
        docs: AlertDocuments,
        senders: Senders,
        clock: Callable[[], int],
        replica_id: str,
        metrics: AlertMetrics,
    ) -> None:
        self._docs = docs
        self._senders = senders
        self._clock = clock
        self._replica = replica_id
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_prune = 0
        self._workers: dict[tuple[str, str], asyncio.Task[int]] = {}

    async def enqueue(self, notifications: list[dict[str, Any]]) -> int:
        """Queue each once; return how many were new."""
        now = self._clock()
        created = 0
        trace = tracing.inject({})  # the alert round's: each delivery is a span of it
        for notification in notifications:
            if await self._docs.enqueue(notification, now, trace):
                created += 1
        if created:
            self._metrics.notifications_queued.inc(created)
            self._wake.set()
        return created

    def wake(self) -> None:
        self._wake.set()

    async def run(self, tick_seconds: float) -> None:
        await on_wake_or_tick(self._wake, tick_seconds, self.dispatch, "outbox dispatch failed")

    async def dispatch(self) -> None:
        """Start a worker for each channel with due entries and none running; wait for none."""
        async with self._lock:
            now = self._clock()
            by_channel: dict[tuple[str, str], list[Due]] = {}
            for tenant in await self._docs.outbox_tenants():
                for doc_id, version, entry in await self._docs.outbox(tenant):
                    if entry["next_attempt_ms"] <= now and entry["claim_until_ms"] <= now:
                        key = (tenant, str(entry["notification"]["target"]))
                        by_channel.setdefault(key, []).append((tenant, doc_id, version, entry))
            for key, due in by_channel.items():
                if key in self._workers or len(self._workers) >= MAX_CHANNELS_IN_FLIGHT:
                    continue  # that channel's worker picks them up on a later round
                worker = asyncio.create_task(self._deliver_all(due), name=f"outbox {key[1]}")
                self._workers[key] = worker
                worker.add_done_callback(functools.partial(self._finished, key))
            if now - self._last_prune > 3_600_000:
                self._last_prune = now
                await self._prune(now)

    def _finished(self, key: tuple[str, str], _: asyncio.Task[int]) -> None:
        self._workers.pop(key, None)
        self._wake.set()  # entries that came due meanwhile

    async def _deliver_all(self, due: list[Due]) -> int:
        delivered = 0
        for item in due:
            delivered += await self._deliver(*item)
        return delivered

    async def settle(self) -> int:
        """Dispatch and wait for every worker; how many were delivered (tests, `deliver_now`)."""
        await self.dispatch()
        workers = list(self._workers.values())
        return sum(await asyncio.gather(*workers)) if workers else 0

    async def stop(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _deliver(self, tenant: str, doc_id: str, version: int, entry: dict[str, Any]) -> bool:
        with (
            tracing.continued(entry.get("trace") or {}),
            tracing.span("notify", {"analytics.tenant": tenant}, kind=tracing.SpanKind.PRODUCER),
        ):
            return await self._deliver_traced(tenant, doc_id, version, entry)

    async def _deliver_traced(
        self, tenant: str, doc_id: str, version: int, entry: dict[str, Any]
    ) -> bool:
        now = self._clock()
        claimed = {**entry, "claimed_by": self._replica, "claim_until_ms": now + CLAIM_MS}
        try:
            version = await self._docs.update_entry(tenant, doc_id, claimed, version)
        except Conflict:
            return False  # another dispatcher has it
        notification = entry["notification"]
        attempts = int(entry["attempts"]) + 1
        try:
            channel = await self._channel(tenant, notification)
            if channel is None:
                raise DeliveryError(
                    f"no channel named {notification['target']!r}",
                    permanent=True,
                    outcome=Outcome.INVALID,
                )
            tracing.set_attribute("alert.channel.kind", channel.kind.value)
            await self._senders.send(channel, notification)
        except DeliveryError as exc:
            tracing.set_attribute("alert.delivery.outcome", exc.outcome.value)
            self._metrics.delivery_failures.inc()
            log.warning("notification %s to %s failed: %s", doc_id, notification["target"],
                        exc.message)  # fmt: skip
            first = int(notification["createdAt"])
            if exc.permanent or self._clock() - first > MAX_AGE_MS:
                await self._docs.finish(
                    tenant, doc_id, _record(notification, attempts, exc, self._clock())
                )
                return False
            retry = {
                **entry,
                "attempts": attempts,
                "next_attempt_ms": self._clock() + backoff_ms(attempts),
                "claimed_by": None,
                "claim_until_ms": 0,
                "last_error": exc.message,
            }
            with contextlib.suppress(Conflict):
                await self._docs.update_entry(tenant, doc_id, retry, version)
            return False
        tracing.set_attribute("alert.delivery.outcome", Outcome.DELIVERED.value)
        await self._docs.finish(
            tenant, doc_id, _record(notification, attempts, None, self._clock())
        )
        self._metrics.notifications_sent.inc()
        return True

    async def _channel(self, tenant: str, notification: dict[str, Any]) -> Channel | None:
        """The channel by id when the notification names one (reports), else by name."""
        try:
            if notification.get("channelId"):
                return await self._docs.channel(tenant, str(notification["channelId"]))
            return await self._docs.channel_named(tenant, notification["target"])
        except SecretUnreadable as exc:  # retried: the operator may restore the key
            raise DeliveryError(exc.message, outcome=Outcome.INVALID) from None

    async def _prune(self, now: int) -> None:
        for tenant in await self._docs.config.document_tenants("alert_sent"):
            for doc_id, _, record in await self._docs.sent(tenant):
                if now - int(record.get("finishedAt") or 0) > SENT_RETENTION_MS:
                    await self._docs.forget_sent(tenant, doc_id)

    async def pending(self, tenant: str) -> list[dict[str, Any]]:
        return [entry for _, _, entry in await self._docs.outbox(tenant)]


def _record(
    notification: dict[str, Any],
    attempts: int,
    error: DeliveryError | None,
    finished_at: int,
) -> dict[str, Any]:
    return {
        "target": notification["target"],
        "alertId": notification.get("alertId"),
        "reportId": notification.get("reportId"),
        "status": notification["status"],
        "delivered": error is None,
        "outcome": (Outcome.DELIVERED if error is None else error.outcome).value,
        "attempts": attempts,
        "error": None if error is None else error.message,
        "createdAt": notification["createdAt"],
        "finishedAt": finished_at,
    }
