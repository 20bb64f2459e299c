"""Benchmark: alert evaluation cost, 10,000 rules over live ingest in one process.

The alert service runs in this process on the embedded stores (DuckDB, SQLite),
as `analytics-gateway serve` runs it, with the real clock. A writer ingests one
point per series every second through the ingest service, whose live messages
wake the rules reading those metrics; the scheduler then evaluates every due
rule in rounds (one store read per round). Measured per round: its duration,
and per rule the lag from the moment it was due to the end of its round.

Baseline: the same aggregations as plain store queries, i.e. the very query set
a round sends (`query_many`), timed alone on the same store and data. The
ratio is what evaluation (conditions, state machine, grouping, persistence of
changes) costs on top of reading the numbers.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from analytics_gateway.alerting.evaluate import plan_reads
from analytics_gateway.alerting.inputs import BandCache, wanted_reads
from analytics_gateway.alerting.lease import LocalOwnership
from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.scheduler import RoundStats
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.alerting.specs import RuleSpec, build_rule
from analytics_gateway.backends.factory import build_backends
from analytics_gateway.config import Settings
from analytics_gateway.domain import MetricPoint, PointBatch
from analytics_gateway.heap import freeze_startup_heap
from analytics_gateway.ingest import IngestService, now_ms
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.subscriptions.hub import Hub
from bench.common import Comparison, percentile, run_async, say, section

TENANT = "bench"
HISTORY_S = 600
STEP_S = 10

# ten rule shapes per series: (condition template, threshold)
SHAPES = (
    "{s} > 95",
    "avg({s}[1m]) > 90",
    "max({s}[1m]) > 99.5",
    "p95({s}[5m]) > 97",
    "avg({s}[5m]) > 80 and last({s}[1m]) > 85",
    "min({s}[1m]) < 0.5",
    "rate({s}[5m]) > 5",
    "sum({s}[1m]) > 590",
    "count({s}[1m]) < 3",
    "{s} / 100 > 0.99",
)


@dataclass(frozen=True)
class AlertOptions:
    rules: int = 10_000
    metrics: int = 20
    seconds: float = 30.0
    baseline_runs: int = 20


def _series(options: AlertOptions) -> list[tuple[str, str]]:
    hosts = max(1, options.rules // len(SHAPES) // options.metrics)
    return [(f"m{m}", f"h{h}") for m in range(options.metrics) for h in range(hosts)]


def _points(series: list[tuple[str, str]], at_ms: int, rng: random.Random) -> PointBatch:
    return PointBatch.of(
        TENANT,
        [MetricPoint(TENANT, m, {"host": h}, at_ms, rng.uniform(0, 100)) for m, h in series],
    )


async def _run(options: AlertOptions, workdir: Path) -> list[Comparison]:
    settings = Settings.from_env({}, data_dir=workdir / "alerts", json_logs=False)
    backends = build_backends(settings)
    registry = CollectorRegistry()
    hub = Hub(backends.broker)
    ingest = IngestService(
        backends.metrics, backends.events, backends.broker, settings.limits,
        GatewayMetrics(registry),
    )  # fmt: skip
    alerts = AlertService(
        settings, backends.config, backends.metrics, backends.broker, hub,
        AlertMetrics(registry), now_ms, ownership=LocalOwnership("bench"),
    )  # fmt: skip
    rng = random.Random(7)
    series = _series(options)
    now = now_ms()
    for back in range(HISTORY_S, 0, -STEP_S):
        await ingest.store_batch(_points(series, now - back * 1000, rng))
    started = time.perf_counter()
    specs = [
        RuleSpec(f"shape {k} {m} {h}", shape.format(s=f'{m}{{host="{h}"}}'), interval="10s")
        for m, h in series
        for k, shape in enumerate(SHAPES)
    ][: options.rules]
    for chunk in range(0, len(specs), 200):
        rules = [
            build_rule(TENANT, f"r{chunk + i:06d}", spec, now_ms=now, created_by="bench")[0]
            for i, spec in enumerate(specs[chunk : chunk + 200])
        ]
        await asyncio.gather(*(alerts.docs.put_rule(r, expected_version=0) for r in rules))
    say(
        f"{len(specs)} rules on {len(series)} series of {options.metrics} metrics "
        f"stored in {time.perf_counter() - started:.1f} s; "
        f"{len(series) * HISTORY_S // STEP_S} history points"
    )
    rounds: list[RoundStats] = []
    alerts.scheduler.on_round = rounds.append
    await hub.start()
    await alerts.start()
    freeze_startup_heap()  # as the gateway's lifespan does once started

    async def writer() -> int:
        batches = 0
        while True:
            await asyncio.sleep(1.0)
            await ingest.store_batch(_points(series, now_ms(), rng))
            batches += 1

    say(f"live ingest of {len(series)} points/s for {options.seconds:.0f} s...")
    task = asyncio.create_task(writer())
    await asyncio.sleep(options.seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await alerts.stop()
    await hub.stop()

    # the baseline: the same reads, as plain store queries
    bands = BandCache()
    at = now_ms()
    wanted = [
        read
        for runtime in alerts.scheduler.rules.values()
        for read in wanted_reads(TENANT, runtime.condition, bands, at)[0]
    ]
    queries, _ = plan_reads(wanted, at)
    plain: list[float] = []
    for _ in range(options.baseline_runs):
        t0 = time.perf_counter()
        await backends.metrics.query_many(queries)
        plain.append((time.perf_counter() - t0) * 1000)
    await backends.close()

    full = [r for r in rounds if r.rules >= len(specs) * 0.9] or rounds
    totals = [r.total_ms for r in full]
    reads = [r.read_ms for r in full]
    lags = [lag for r in rounds for lag in r.lags_ms]
    evaluated = sum(r.rules for r in rounds)
    say(
        f"{len(rounds)} rounds ({len(full)} with >=90% of rules), {evaluated} evaluations "
        f"({evaluated / options.seconds:,.0f}/s); {full[-1].queries if full else 0} store "
        f"queries per round for {len(specs)} rules"
    )
    say(
        f"round: median {statistics.median(totals):.0f} ms (store read "
        f"{statistics.median(reads):.0f} ms); plain query_many median "
        f"{statistics.median(plain):.0f} ms, p99 {percentile(plain, 99):.0f} ms"
    )
    say(f"evaluation lag: p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms")
    notes = [
        f"{len(specs)} rules, {len(series)} series, {len(queries)} queries per round "
        "(selectors sharing metric, function and window share one query)",
        f"{evaluated / options.seconds:,.0f} rule evaluations/s; lag p50 "
        f"{percentile(lags, 50):.0f} ms",
    ]
    return [
        Comparison(
            "alerts: round vs plain reads",
            "ms",
            statistics.median(totals),
            statistics.median(plain),
            higher_is_better=False,
            target=3.0,
            notes=notes,
        ),
        Comparison(
            "alerts: evaluation lag p99",
            "ms",
            percentile(lags, 99),
            percentile(plain, 99),
            higher_is_better=False,
            target=None,
        ),
    ]


def run(options: AlertOptions, workdir: Path) -> list[Comparison]:
    section(f"alerts: {options.rules} rules over live ingest, {options.seconds:.0f} s, one process")
    return run_async(_run(options, workdir))
