"""Demo data: a week of realistic history for tenant `demo`, then live points every second
at the history's rates: gauges each second, per-minute counts once a minute, and as
many plays an hour.

Daily and weekly rhythms with noise: song plays per country, active users,
revenue, conversion rate, request latency, error rate, CPU per host.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Iterator

from analytics_gateway.alerting.model import Severity
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.alerting.specs import RuleSpec
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.dashboards.catalogue import demo_spec
from analytics_gateway.dashboards.service import DashboardService
from analytics_gateway.domain import MetricPoint, PointBatch
from analytics_gateway.ingest import IngestService, RawEvent

log = logging.getLogger(__name__)

TENANT = "demo"
STEP_MS = 60_000
HOUR_MS = 3_600_000
PLAYS_PER_HOUR = 200  # song_play events, in history and live alike
HISTORY_MS = 7 * 86_400_000
COUNTRIES = {"US": 1.0, "DE": 0.45, "GB": 0.4, "BR": 0.55, "JP": 0.35, "FR": 0.3}
HOSTS = ("web-1", "web-2", "db-1")
SONGS = [f"song-{i}" for i in range(1, 41)]
DEMO_DASHBOARD = "overview"


def _daily(ts_ms: int, phase_hours: float = 0.0) -> float:
    """0..1 daily rhythm peaking in the evening (UTC + phase)."""
    hours = (ts_ms / 3_600_000 + phase_hours) % 24
    return 0.5 + 0.5 * math.sin((hours - 14) / 24 * 2 * math.pi)


def _weekly(ts_ms: int) -> float:
    weekday = (ts_ms // 86_400_000 + 3) % 7  # 1970-01-01 was a Thursday
    return 1.15 if weekday in (4, 5) else 1.0


def sample(ts_ms: int, rng: random.Random) -> Iterator[tuple[str, dict[str, str], float]]:
    """All demo metrics at one instant; counts (plays, revenue) are per `STEP_MS`."""
    load = _daily(ts_ms) * _weekly(ts_ms)
    for country, weight in COUNTRIES.items():
        plays = max(0.0, weight * (400 + 900 * load) * rng.gauss(1, 0.06))
        yield "song_plays", {"country": country}, round(plays)
    users = (12_000 + 9_000 * load) * rng.gauss(1, 0.02)
    yield "active_users", {}, round(users)
    yield "revenue", {}, round(max(0.0, users * 0.021 * rng.gauss(1, 0.08)), 2)
    conversion = 0.031 + 0.008 * load + rng.gauss(0, 0.002)
    yield "conversion_rate", {}, round(min(1.0, max(0.0, conversion)), 4)
    for endpoint, base in (("/play", 45.0), ("/search", 120.0)):
        latency = base * (1 + 0.6 * load) * rng.lognormvariate(0, 0.15)
        yield "request_latency_ms", {"endpoint": endpoint}, round(latency, 1)
    spike = 0.04 if rng.random() < 0.003 else 0.0
    yield "error_rate", {}, round(max(0.0, 0.008 + 0.006 * load + spike + rng.gauss(0, 0.002)), 4)
    for i, host in enumerate(HOSTS):
        cpu = 20 + 55 * _daily(ts_ms, phase_hours=i) + rng.gauss(0, 4)
        yield "cpu_usage", {"host": host}, round(min(100.0, max(0.0, cpu)), 1)


def history_points(end_ms: int, rng: random.Random) -> Iterator[MetricPoint]:
    start = (end_ms - HISTORY_MS) // STEP_MS * STEP_MS
    for ts in range(start, end_ms, STEP_MS):
        for name, labels, value in sample(ts, rng):
            yield MetricPoint(TENANT, name, labels, ts, float(value))


COUNTS = frozenset({"song_plays", "revenue"})  # per STEP_MS: summed, not averaged


def live_sample(
    ts_ms: int, previous_ms: int | None, rng: random.Random
) -> list[tuple[str, dict[str, str], float]]:
    """One live instant: the gauges every time, the per-minute counts only at the
    first instant of each minute, so that live data has the history's density for
    counts (a sum over a range stays a sum of minutes) and is live for the rest."""
    new_minute = previous_ms is None or ts_ms // STEP_MS != previous_ms // STEP_MS
    return [(n, labels, v) for n, labels, v in sample(ts_ms, rng) if new_minute or n not in COUNTS]


def live_plays(interval_seconds: float, rng: random.Random) -> int:
    """Plays in one live interval: `PLAYS_PER_HOUR` an hour on average."""
    expected = PLAYS_PER_HOUR * interval_seconds / 3600
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def play_events(
    ts_ms: int, count: int, rng: random.Random, spread_ms: int = 1000
) -> list[RawEvent]:
    """`count` plays in the `spread_ms` ending at `ts_ms`, spread evenly at random (the
    history's hour holds its plays all through the hour, as live ones come)."""
    countries = list(COUNTRIES)
    weights = list(COUNTRIES.values())
    return [
        RawEvent(
            "song_play",
            f"user-{rng.randint(1, 500)}",
            ts_ms - rng.randint(0, spread_ms - 1),
            {
                "song_id": rng.choice(SONGS),
                "duration": rng.randint(60, 300),
                "country": rng.choices(countries, weights)[0],
            },
        )
        for _ in range(count)
    ]


DEMO_ALERTS = (
    RuleSpec(
        name="CPU busy",
        condition="avg(cpu_usage[1m]) > 65",
        severity=Severity.WARNING,
        for_="1m",
        interval="15s",
        group_by=("host",),
        annotations={"summary": "{{ $labels.host }} at {{ $value }}% CPU"},
    ),
    RuleSpec(
        name="High error rate",
        condition="avg(error_rate[5m]) > 0.05",
        severity=Severity.CRITICAL,
        interval="15s",
        annotations={"summary": "error rate is {{ $value }}"},
    ),
)


class Demo:
    """Seeds tenant `demo` once, then publishes live points through ingest."""

    def __init__(
        self,
        ingest: IngestService,
        alerts: AlertService,
        dashboards: DashboardService,
        metric_store: MetricStore,
        clock: Callable[[], int],
        rng: random.Random,
    ) -> None:
        self._ingest = ingest
        self._alerts = alerts
        self._dashboards = dashboards
        self._store = metric_store
        self._clock = clock
        self._rng = rng

    async def seed(self) -> None:
        await self._dashboards.repository.ensure(TENANT, DEMO_DASHBOARD, demo_spec())
        await self._seed_alerts()
        if await self._store.metric_names(TENANT, None):
            log.info("demo tenant already has data; not seeding again")
            return
        end = self._clock()
        batch: list[MetricPoint] = []
        for point in history_points(end, self._rng):
            batch.append(point)
            if len(batch) >= 50_000:
                await self._store.write_batch(PointBatch.of(TENANT, batch))
                batch = []
        await self._store.write_batch(PointBatch.of(TENANT, batch))
        for hour in range(24, 0, -1):
            ts = end - (hour - 1) * HOUR_MS - 1
            plays = play_events(ts, PLAYS_PER_HOUR, self._rng, spread_ms=HOUR_MS)
            await self._ingest.ingest_events(TENANT, plays)
        log.info("demo tenant seeded with a week of history")

    async def _seed_alerts(self) -> None:
        """A couple of rules, so the alerts panel and `alerts` have something to show."""
        existing = {rule.name for rule in await self._alerts.rules(TENANT)}
        for spec in DEMO_ALERTS:
            if spec.name not in existing:
                await self._alerts.create_rule(TENANT, spec, "demo")

    async def publish_live(self, interval_seconds: float = 1.0) -> None:
        """Fresh points for every demo series (and a few plays) each interval."""
        rng = self._rng
        previous: int | None = None
        while True:
            ts = self._clock()
            points = [
                MetricPoint(TENANT, n, labels, ts, float(v))
                for n, labels, v in live_sample(ts, previous, rng)
            ]
            previous = ts
            # as many plays an hour as the history has
            plays = live_plays(interval_seconds, rng)
            try:
                await self._ingest.store_batch(PointBatch.of(TENANT, points))
                if plays:
                    await self._ingest.ingest_events(TENANT, play_events(ts, plays, rng))
            except Exception:
                log.exception("demo publisher failed; retrying")
            await asyncio.sleep(interval_seconds)
