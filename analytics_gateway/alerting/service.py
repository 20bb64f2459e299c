"""`AlertService`: the alerting collaborator the app starts and resolvers call.

It owns the scheduler (evaluation), the outbox (delivery) and the lease
(which rules this process evaluates), and answers the API: rules, silences,
channels, state, simulation. Every call is scoped to one tenant. Time comes
from the injected `clock` (epoch ms), so tests drive it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import orjson
import redis.asyncio as aioredis

from analytics_gateway.alerting.channels.base import DeliveryError
from analytics_gateway.alerting.channels.registry import Senders
from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.alerting.lease import LocalOwnership, RedisOwnership, shard_of
from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.model import AlertRule, Channel, ChannelKind, Silence
from analytics_gateway.alerting.outbox import Outbox
from analytics_gateway.alerting.scheduler import Ownership, Scheduler
from analytics_gateway.alerting.silences import check_matchers, check_period
from analytics_gateway.alerting.simulate import Simulation, simulate
from analytics_gateway.alerting.specs import ChannelSpec, RuleSpec, build_channel, build_rule
from analytics_gateway.alerting.store import AlertDocuments
from analytics_gateway.backends.base import Broker, ConfigStore, MetricStore
from analytics_gateway.background import stop_task
from analytics_gateway.config import Settings
from analytics_gateway.crypto.envelope import Secrets
from analytics_gateway.egress import EgressPolicy
from analytics_gateway.errors import BackendUnavailable, BadUserInput, Conflict, NotFound
from analytics_gateway.keyed_locks import KeyedLocks
from analytics_gateway.quotas import Quotas
from analytics_gateway.subscriptions.channels import alerts_channel
from analytics_gateway.subscriptions.hub import Hub

log = logging.getLogger(__name__)

SYNC_TICKS = 5


def build_ownership(settings: Settings, replica_id: str) -> Ownership:
    """Leases in the config Redis when rules live there (replicas share them), else local."""
    url = settings.resolved_config_url
    if urlparse(url).scheme not in ("redis", "rediss"):
        return LocalOwnership(replica_id)
    client = aioredis.Redis.from_url(
        url,
        socket_timeout=settings.backend_timeout_seconds,
        socket_connect_timeout=settings.backend_timeout_seconds,
    )
    return RedisOwnership(client, replica_id, int(settings.alert_lease_seconds * 1000))


class AlertService:
    def __init__(
        self,
        settings: Settings,
        config: ConfigStore,
        metric_store: MetricStore,
        broker: Broker,
        hub: Hub | None,
        metrics: AlertMetrics,
        clock: Callable[[], int],
        *,
        replica_id: str | None = None,
        ownership: Ownership | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.settings = settings
        self._quotas = quotas
        self._create_locks = KeyedLocks()
        self.replica_id = (
            replica_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        )
        self.docs = AlertDocuments(config, Secrets.of_settings(settings))
        self.metrics = metrics
        self.clock = clock
        self._store = metric_store
        self._broker = broker
        self._senders = Senders(EgressPolicy.parse(settings.egress_allow))
        self.outbox = Outbox(self.docs, self._senders, clock, self.replica_id, metrics)
        self.ownership = ownership or build_ownership(settings, self.replica_id)
        self.scheduler = Scheduler(
            self.docs,
            metric_store,
            self.ownership,
            self.outbox,
            self._publish,
            clock,
            metrics,
            hub,
            min_gap_ms=int(settings.alert_tick_seconds * 1000),
        )
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        tick = self.settings.alert_tick_seconds
        try:
            await self.scheduler.sync()
            await self.scheduler.rebalance()
        except BackendUnavailable as exc:  # the loops below retry
            log.warning("alerting starts without its rules for now: %s", exc.message)
        self._spawn(self.scheduler.run(tick), "alert-scheduler")
        self._spawn(self.outbox.run(tick), "alert-outbox")
        self._spawn(self._every(tick * SYNC_TICKS, self.scheduler.sync), "alert-sync")
        if isinstance(self.ownership, RedisOwnership):
            lease = self.ownership.ttl_ms / 3000
            self._spawn(self._every(lease, self.scheduler.rebalance), "alert-lease")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _every(self, seconds: float, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except BackendUnavailable as exc:
                log.warning("alerting: %s", exc.message)

    async def stop(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks.clear()
        await self.outbox.stop()
        await self.scheduler.stop()
        await self.ownership.release()
        await self.ownership.close()
        await self._senders.close()

    async def evaluate_now(self) -> int:
        """Run a round for the rules due at the clock's now (tests and simulation of ticks)."""
        return await self.scheduler.evaluate_due()

    async def deliver_now(self) -> int:
        """Send what is due and wait for it; how many were delivered."""
        return await self.outbox.settle()

    async def _publish(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        messages = [(alerts_channel(tenant), orjson.dumps(event)) for tenant, event in events]
        try:
            await self._broker.publish_many(messages)
        except BackendUnavailable as exc:
            log.warning("alert events not published (live subscribers miss them): %s", exc)

    # -- rules ---------------------------------------------------------------

    async def _check_targets(self, rule: AlertRule) -> None:
        known = {c.name for c in await self.docs.channels(rule.tenant)}
        for field_name, names in (("channels", rule.channels), ("actions", rule.actions)):
            missing = [n for n in names if n not in known]
            if missing:
                raise BadUserInput(
                    f"{field_name}: no channel named {', '.join(map(repr, missing))}; "
                    "create it with createChannel first",
                    field=field_name,
                )

    def _creating(self, tenant: str, kind: str) -> AbstractAsyncContextManager[None]:
        """Held across a create's count and write (see `keyed_locks`)."""
        return self._create_locks.hold((tenant, kind))

    async def create_rule(
        self, tenant: str, spec: RuleSpec, created_by: str, *, rule_id: str | None = None
    ) -> AlertRule:
        """A new rule; with `rule_id`, CONFLICT if the tenant has a rule of that id."""
        rule, condition = build_rule(
            tenant, rule_id or uuid.uuid4().hex, spec, now_ms=self.clock(), created_by=created_by
        )
        await self._check_targets(rule)
        async with self._creating(tenant, "alert_rules"):
            if self._quotas is not None:
                await self._quotas.check_count(
                    tenant, "alert_rules", len(await self.docs.rules(tenant))
                )
            stored = await self.docs.put_rule(rule, expected_version=0)
        self.scheduler.upsert(stored, condition)
        await self.scheduler.update_listeners()
        return stored

    async def update_rule(
        self, tenant: str, rule_id: str, spec: RuleSpec, expected_version: int | None
    ) -> AlertRule:
        current = await self.rule(tenant, rule_id)
        rule, condition = build_rule(
            tenant, rule_id, spec, now_ms=self.clock(), created_by=current.created_by
        )
        rule = replace(rule, created_at_ms=current.created_at_ms)
        await self._check_targets(rule)
        version = current.version if expected_version is None else expected_version
        stored = await self.docs.put_rule(rule, expected_version=version)
        self.scheduler.upsert(stored, condition)
        await self.scheduler.update_listeners()
        return stored

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        deleted = await self.docs.delete_rule(tenant, rule_id)
        self.scheduler.remove(tenant, rule_id)
        return deleted

    async def rules(self, tenant: str) -> list[AlertRule]:
        return await self.docs.rules(tenant)

    async def rule(self, tenant: str, rule_id: str) -> AlertRule:
        rule = await self.docs.rule(tenant, rule_id)
        if rule is None:
            raise NotFound(f"no alert {rule_id!r}", id=rule_id)
        return rule

    async def state(self, tenant: str, rule_id: str) -> RuleState:
        """The freshest state: this process's own if it evaluates the rule, else the stored."""
        runtime = self.scheduler.rules.get((tenant, rule_id))
        if runtime is not None and runtime.state is not None:
            return runtime.state
        return await self.docs.state(tenant, rule_id)

    async def states(self, tenant: str) -> dict[str, RuleState]:
        stored = await self.docs.states(tenant)
        for (rule_tenant, rule_id), runtime in self.scheduler.rules.items():
            if rule_tenant == tenant and runtime.state is not None:
                stored[rule_id] = runtime.state
        return stored

    async def evaluator(self, tenant: str, rule_id: str) -> str | None:
        """The process (replica id) that evaluates this rule now."""
        return await self.ownership.owner(shard_of(tenant, rule_id))

    async def simulate(self, tenant: str, spec: RuleSpec, start_ms: int, end_ms: int) -> Simulation:
        rule, condition = build_rule(tenant, "simulation", spec, now_ms=start_ms, created_by="")
        silences = await self.docs.silences(tenant)
        return await simulate(self._store, rule, condition, start_ms, end_ms, silences)

    # -- silences --------------------------------------------------------------

    async def create_silence(
        self,
        tenant: str,
        created_by: str,
        matchers: list[tuple[str, str, str]],
        starts_at_ms: int | None,
        ends_at_ms: int,
        comment: str,
    ) -> Silence:
        now = self.clock()
        start = now if starts_at_ms is None else starts_at_ms
        check_period(start, ends_at_ms)
        if len(comment) > 1024:
            raise BadUserInput("comment: at most 1024 characters", field="comment")
        silence = Silence(
            id=uuid.uuid4().hex,
            tenant=tenant,
            matchers=check_matchers(matchers),
            starts_at_ms=start,
            ends_at_ms=ends_at_ms,
            created_by=created_by,
            comment=comment,
            created_at_ms=now,
        )
        await self.docs.put_silence(silence)
        await self._refresh_silences(tenant)
        return silence

    async def expire_silence(self, tenant: str, silence_id: str) -> Silence:
        silence = await self.docs.silence(tenant, silence_id)
        if silence is None:
            raise NotFound(f"no silence {silence_id!r}", id=silence_id)
        now = self.clock()
        if silence.ends_at_ms > now:
            silence = replace(silence, ends_at_ms=max(now, silence.starts_at_ms))
            await self.docs.put_silence(silence)
            await self._refresh_silences(tenant)
        return silence

    async def silences(self, tenant: str) -> list[Silence]:
        return await self.docs.silences(tenant)

    async def _refresh_silences(self, tenant: str) -> None:
        self.scheduler.set_silences(tenant, await self.docs.silences(tenant))

    # -- channels --------------------------------------------------------------

    async def _check_destination(self, channel: Channel) -> None:
        """The egress policy, at once: a refused destination is never stored."""
        policy = self._senders.policy
        if channel.kind is ChannelKind.EMAIL:
            await policy.resolve(channel.smtp_host, channel.smtp_port, "smtpHost")
        else:
            await policy.check_url(channel.url)

    async def create_channel(self, tenant: str, spec: ChannelSpec) -> Channel:
        channel = build_channel(tenant, uuid.uuid4().hex, spec)
        await self._check_destination(channel)
        async with self._creating(tenant, "channels"):  # names and the count hold too
            existing = await self.docs.channels(tenant)
            if any(c.name == channel.name for c in existing):
                raise Conflict(f"a channel named {channel.name!r} exists", field="name")
            if self._quotas is not None:
                await self._quotas.check_count(tenant, "channels", len(existing))
            version = await self.docs.put_channel(channel, expected_version=0)
        return replace(channel, version=version)

    async def update_channel(self, tenant: str, channel_id: str, spec: ChannelSpec) -> Channel:
        current = await self.channel(tenant, channel_id)
        channel = build_channel(tenant, channel_id, spec)
        await self._check_destination(channel)
        if not spec.secret:
            channel = replace(channel, secret=current.secret)
        if not spec.password:
            channel = replace(channel, password=current.password)
        others = [c for c in await self.docs.channels(tenant) if c.id != channel_id]
        if any(c.name == channel.name for c in others):
            raise Conflict(f"a channel named {channel.name!r} exists", field="name")
        if channel.name != current.name:
            await self._refuse_if_used(tenant, current.name)
        version = await self.docs.put_channel(channel, expected_version=current.version)
        return replace(channel, version=version)

    async def delete_channel(self, tenant: str, channel_id: str) -> bool:
        current = await self.docs.channel(tenant, channel_id)
        if current is None:
            return False
        await self._refuse_if_used(tenant, current.name)
        return await self.docs.delete_channel(tenant, channel_id)

    async def _refuse_if_used(self, tenant: str, name: str) -> None:
        users = [r.name for r in await self.docs.rules(tenant) if name in (*r.channels, *r.actions)]
        if users:
            raise Conflict(
                f"channel {name!r} is used by alert(s) {', '.join(map(repr, users))}",
                field="name",
            )

    async def channels(self, tenant: str) -> list[Channel]:
        return await self.docs.channels(tenant)

    async def channel(self, tenant: str, channel_id: str) -> Channel:
        channel = await self.docs.channel(tenant, channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id!r}", id=channel_id)
        return channel

    async def test_channel(self, tenant: str, channel_id: str) -> DeliveryError | None:
        """Send a test notification now (not through the outbox); the error, or None.

        The error says what class of failure it was and why, in words of our own:
        never the receiver's reply."""
        channel = await self.channel(tenant, channel_id)
        now = self.clock()
        notification = {
            "id": f"test-{uuid.uuid4().hex}",
            "tenant": tenant,
            "alertId": "test",
            "alertName": f"Test of channel {channel.name}",
            "severity": "INFO",
            "status": "firing",
            "groupKey": "{}",
            "groupLabels": {},
            "repeat": False,
            "alerts": [],
            "target": channel.name,
            "action": False,
            "createdAt": now,
            "test": True,
        }
        try:
            await self._senders.send(channel, notification)
        except DeliveryError as exc:
            return exc
        return None
