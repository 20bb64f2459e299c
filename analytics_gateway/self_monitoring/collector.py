"""`SelfMonitor`: every gateway records its host and itself in the operator tenant.

Every `interval_seconds` it samples the host (`host.HostSampler`, in a thread)
and the process (`gateway.GatewaySampler`) and writes the samples as ordinary
points of the operator tenant through the same path a client's points take:
the tenant's point rate is drawn from (`Quotas.admit_points`), then
`IngestService.ingest_points` validates, stores (or buffers), tells the
listeners and publishes, so dashboards, subscriptions and alert rules see
them as they see any tenant's. The operator tenant gets room in its quotas
(`quotas.operator_quotas`) so that agents pushing into it do not crowd these
points out.

A collection that fails (a store down, a refusal) is logged and the next one
runs at its time; a collection that overruns its interval skips the slots it
missed rather than catching up in a burst. A timer task measures event-loop
lag meanwhile. `run()` is the background task the app starts and cancels.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from analytics_gateway.alerting.service import AlertService
from analytics_gateway.config import Settings
from analytics_gateway.domain import IngestOutcome
from analytics_gateway.errors import GatewayError
from analytics_gateway.ingest import IngestService, RawPoint
from analytics_gateway.ingest_buffer import IngestBuffer
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.quotas import Quotas
from analytics_gateway.self_monitoring.gateway import GatewaySampler
from analytics_gateway.self_monitoring.host import HostSampler, Sample

log = logging.getLogger(__name__)

LAG_PROBE_SECONDS = 0.25
"""How often the event-loop timer fires; its lateness is the lag."""


class SelfMonitor:
    def __init__(
        self,
        tenant: str,
        interval_seconds: float,
        host: HostSampler,
        gateway: GatewaySampler,
        ingest: IngestService,
        quotas: Quotas,
        clock: Callable[[], int],
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("the self-monitoring interval must be above 0")
        self.tenant = tenant
        self.interval_seconds = interval_seconds
        self._host = host
        self._gateway = gateway
        self._ingest = ingest
        self._quotas = quotas
        self._clock = clock

    @classmethod
    def for_gateway(
        cls,
        settings: Settings,
        metrics: GatewayMetrics,
        alerts: AlertService,
        buffer: IngestBuffer | None,
        ingest: IngestService,
        quotas: Quotas,
        clock: Callable[[], int],
    ) -> SelfMonitor:
        hostname = socket.gethostname()
        labels = {"host": hostname, "instance": f"{hostname}:{settings.port}"}
        return cls(
            settings.self_tenant,
            settings.self_interval_seconds,
            HostSampler(hostname, settings.data_dir, per_cpu=settings.self_per_cpu),
            GatewaySampler(
                labels,
                metrics,
                alerts,
                buffer,
                clock,
                backlog_timeout_seconds=min(2.0, settings.backend_timeout_seconds),
            ),
            ingest,
            quotas,
            clock,
        )

    async def run(self) -> None:
        """Collect every interval until cancelled."""
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._host.prime)
        self._gateway.prime()
        probe = asyncio.create_task(self._probe_loop_lag(), name="self-monitoring-lag")
        try:
            due = loop.time() + self.interval_seconds
            while True:
                await asyncio.sleep(max(0.0, due - loop.time()))
                await self._collect_logged()
                due += self.interval_seconds
                if due <= loop.time():  # overran: the next slot still ahead
                    missed = (loop.time() - due) // self.interval_seconds + 1
                    due += missed * self.interval_seconds
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)

    async def _collect_logged(self) -> None:
        current = asyncio.current_task()
        try:
            outcome = await self.collect()
        except Exception as exc:
            if current is not None and current.cancelling():
                # a cancel that became a store error on the way: stop, as asked
                raise asyncio.CancelledError from exc
            if isinstance(exc, GatewayError):
                log.warning("self-monitoring: collection not stored: %s", exc.message)
            else:
                log.exception("self-monitoring: collection failed; the next one runs")
            return
        if outcome.rejected:
            first = outcome.rejected[0]
            log.warning(
                "self-monitoring: %d point(s) refused, e.g. #%d: %s",
                len(outcome.rejected),
                first.index,
                first.message,
            )

    async def collect(self) -> IngestOutcome:
        """Sample the host and the gateway once, and store the samples."""
        samples: list[Sample] = []
        try:
            samples += await asyncio.to_thread(self._host.sample)
        except Exception:  # psutil on an odd platform: the gateway's own figures still go
            log.exception("self-monitoring: reading the host failed")
        samples += await self._gateway.sample()
        now = self._clock()
        points = [RawPoint(s.name, s.value, dict(s.labels), now) for s in samples]
        await self._quotas.admit_points(self.tenant, len(points))
        return await self._ingest.ingest_points(self.tenant, points)

    async def _probe_loop_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self._gateway.observe_loop_lag(max(0.0, loop.time() - started - LAG_PROBE_SECONDS))
