"""The long-lived collaborators of one app, and the one place they are built and started.

`start_services` builds every service with its collaborators passed to its
constructor, starts them in order and registers each one's stop on the
caller's `AsyncExitStack` as soon as it has started. If anything fails to
start, the stack stops what had started, in reverse order: no task, socket or
connection is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.audit import AuditMetrics, AuditTrail
from analytics_gateway.auth import Authenticator
from analytics_gateway.backends.factory import Backends, build_backends
from analytics_gateway.background import stop_task
from analytics_gateway.behaviour import cache as behaviour_cache
from analytics_gateway.config import Settings
from analytics_gateway.dashboards.service import DashboardService
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.dataloaders.query_cache import invalidation
from analytics_gateway.demo import Demo
from analytics_gateway.ingest import IngestService
from analytics_gateway.key_memory import KeyMemory, KeyUsage
from analytics_gateway.kpis.service import KpiService
from analytics_gateway.ml.service import MlService
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.oidc import IdentityProvider, OidcConfig
from analytics_gateway.operator.log_levels import LogLevels
from analytics_gateway.operator.profiling import Profiles
from analytics_gateway.privacy import Privacy, build_privacy
from analytics_gateway.quotas import Quotas
from analytics_gateway.reads import Reads
from analytics_gateway.reports.repository import ReportRepository
from analytics_gateway.reports.service import ReportService
from analytics_gateway.self_monitoring.collector import SelfMonitor
from analytics_gateway.subscriptions.budget import FanoutBudget
from analytics_gateway.subscriptions.cohorts import CohortRegistry
from analytics_gateway.subscriptions.hub import Hub
from analytics_gateway.subscriptions.sessions import SessionRegistry

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    backends: Backends
    ingest: IngestService
    hub: Hub
    metrics: GatewayMetrics
    cohorts: CohortRegistry
    sessions: SessionRegistry
    alerts: AlertService
    ml: MlService
    dashboards: DashboardService
    reads: Reads
    quotas: Quotas
    clock: Callable[[], int]
    """Epoch ms: every read of "now" goes through it, so tests can move time."""
    keys: KeyMemory
    """The config store's keys, remembered: authentication through a store blip."""
    auth: Authenticator
    """Credentials to principals: API keys (through `keys`) and identity-provider tokens."""
    log_levels: LogLevels
    profiles: Profiles
    audit: AuditTrail
    """The per-tenant audit trail: mutations, sign-ins, refused credentials, exports."""
    privacy: Privacy
    """Erasure, pseudonymous user ids and retention (see `privacy`)."""
    kpis: KpiService
    """Per-tenant KPIs and their values (read through fresh loaders when a reader has none)."""
    reports: ReportService
    """Business reports: generated on demand, sent on their schedules through the outbox."""


async def start_services(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    metrics: GatewayMetrics,
    clock: Callable[[], int],
) -> Services:
    """Build and start everything; `stack` stops it all again, in reverse order."""
    backends = build_backends(settings, metrics.registry)
    stack.push_async_callback(backends.close)
    fanout_budget = FanoutBudget(settings.live_fanout_share)
    hub = Hub(
        backends.broker,
        queue_size=settings.subscriber_queue_size,
        on_drop=metrics.dropped_messages.inc,
        on_deliver=metrics.fanout_deliveries.inc,
        budget=fanout_budget,
    )
    await _start(stack, hub.start, hub.stop)
    sessions = SessionRegistry(backends.config)
    await _start(stack, sessions.start, sessions.stop)
    invalidate = invalidation(backends.cache)
    quotas = Quotas.of_settings(settings, backends.config, backends.buckets)
    privacy = build_privacy(settings, backends, clock)
    ingest = IngestService(
        backends.metrics,
        backends.events,
        backends.broker,
        settings.limits,
        metrics,
        clock=clock,
        buffer=backends.buffer,
        listeners=[invalidate],
        series_quota=quotas.admit_series,
        pseudonymise=privacy.pseudonyms.stored if privacy.pseudonyms.enabled else None,
        sensitive=privacy.sensitive,
    )
    ingest.on_events_stored(behaviour_cache.invalidation(backends.cache))
    alerts = AlertService(
        settings, backends.config, backends.metrics, backends.broker, hub,
        AlertMetrics(metrics.registry), clock, quotas=quotas,
    )  # fmt: skip
    await _start(stack, alerts.start, alerts.stop)
    ml = MlService(
        settings, backends.config, backends.metrics, backends.broker, ingest, clock,
        quotas=quotas, events=backends.events,
    )  # fmt: skip
    await _start(stack, ml.start, ml.stop)
    keys = KeyMemory(backends.config, ask_seconds=min(2.0, settings.backend_timeout_seconds))
    key_usage = KeyUsage(backends.config)
    await _start(stack, key_usage.start, key_usage.stop)
    identity = None
    if (oidc_config := OidcConfig.of_settings(settings)) is not None:
        identity = IdentityProvider(oidc_config)
        stack.push_async_callback(identity.close)
    audit = AuditTrail(
        backends.config,
        clock,
        AuditMetrics(metrics.registry),
        operator_tenant=settings.self_tenant,
        retention=settings.audit_retention,
        # as `keys`: a hung store delays an acknowledged mutation this long at most
        timeout_seconds=min(2.0, settings.backend_timeout_seconds),
    )
    # a reader without a request of its own (reports) reads through fresh loaders
    kpis = KpiService(backends.config, clock, lambda tenant: Loaders.for_request(services, tenant))
    reports = ReportService(
        ReportRepository(backends.config, clock), kpis, ml, alerts.docs, alerts.outbox,
        alerts.ownership, lambda tenant: Loaders.for_request(services, tenant),
        backends.metrics.label_names, clock,
    )  # fmt: skip
    services = Services(
        settings=settings,
        backends=backends,
        ingest=ingest,
        hub=hub,
        metrics=metrics,
        cohorts=CohortRegistry(
            settings.subscriber_queue_size,
            on_drop=metrics.dropped_messages.inc,
            on_active_change=metrics.active_subscriptions.inc,
            budget=fanout_budget,
        ),
        sessions=sessions,
        alerts=alerts,
        ml=ml,
        dashboards=DashboardService(backends.config, alerts, ml, hub, clock, quotas, kpis),
        reads=Reads(
            backends.metrics, backends.events, backends.prometheus, privacy.sensitive.open_events
        ),
        quotas=quotas,
        clock=clock,
        keys=keys,
        auth=Authenticator(keys, identity, key_usage, clock, on_sign_in=audit.note_sign_in),
        log_levels=LogLevels(backends.config, settings.self_tenant, clock),
        profiles=Profiles(),
        audit=audit,
        privacy=privacy,
        kpis=kpis,
        reports=reports,
    )
    await _start(stack, services.log_levels.start, services.log_levels.stop)
    stack.push_async_callback(services.audit.stop)  # after its task: the last refusals
    background(stack, services.audit.run(), "audit")
    background(stack, reports.run(), "reports")
    stack.push_async_callback(services.keys.close)
    if backends.buffer is not None:
        drainer = backends.buffer.drain_forever(
            invalidate,
            metrics.buffer_drained.inc,
            events_stored=behaviour_cache.invalidation(backends.cache),
        )
        background(stack, drainer, "ingest-buffer")
    if settings.retention_interval_seconds > 0:
        retention = privacy.retention.run_forever(settings.retention_interval_seconds)
        background(stack, retention, "retention")
    if settings.self_interval_seconds > 0:
        monitor = SelfMonitor.for_gateway(
            settings, metrics, alerts, backends.buffer, ingest, quotas, clock
        )
        background(stack, monitor.run(), "self-monitoring")
    if settings.demo:
        demo = Demo(ingest, alerts, services.dashboards, backends.metrics, clock, random.Random(7))
        await demo.seed()  # before serving: the first query sees data
        background(stack, demo.publish_live(), "demo")
    return services


async def _start(
    stack: contextlib.AsyncExitStack,
    start: Callable[[], Coroutine[Any, Any, None]],
    stop: Callable[[], Coroutine[Any, Any, None]],
) -> None:
    await start()
    stack.push_async_callback(stop)


def background(
    stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str
) -> asyncio.Task[None]:
    """Run `work` until the stack closes; then cancel it and wait a bounded time."""
    task = asyncio.create_task(work, name=name)
    stack.push_async_callback(stop_task, task)
    return task
