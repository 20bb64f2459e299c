"""`python -m bench`: run the benchmarks and print gateway vs baseline figures.

Every figure is measured in this run; nothing is stored or compared with old runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import (
    alerts,
    behaviour,
    cardinality,
    dashboard,
    fanout,
    influx,
    ingest,
    isolation,
    live_ingest,
    ml,
    neighbour_volume,
    query_latency,
    tracing_overhead,
)
from bench.common import Comparison, table

BENCHMARKS = (
    "query",
    "ingest",
    "fanout",
    "influx",
    "dashboard",
    "ml",
    "alerts",
    "live-ingest",
    "isolation",
    "cardinality",
    "tracing",
    "behaviour",
    "neighbour-volume",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Gateway benchmarks against bare baselines (see bench/README.md).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, for a check that it all runs"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep data and server logs here (default: a temp dir)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the gateway processes under cProfile and write DIR/<name>.prof",
    )
    group = parser.add_argument_group("sizes (defaults depend on --quick)")
    group.add_argument("--query-requests", type=int, help="timed requests per server (200)")
    group.add_argument("--ingest-points", type=int, help="points sent to each server (200000)")
    group.add_argument("--ingest-batch", type=int, default=5000, help="lines per request (5000)")
    group.add_argument(
        "--ingest-concurrency", type=int, default=1, help="requests in flight (1: sequential)"
    )
    group.add_argument("--fanout-clients", type=int, help="WebSocket subscribers (1000)")
    group.add_argument(
        "--dashboard-rounds", type=int, help="dashboard loads and widget-query rounds (60)"
    )
    group.add_argument("--fanout-messages", type=int, help="published messages per round (20)")
    group.add_argument("--ml-points", type=int, help="points of the detection series (1000000)")
    group.add_argument(
        "--ml-detector", default="iforest", help="detector compared with PyOD (iforest)"
    )
    group.add_argument("--alert-rules", type=int, help="alert rules evaluated (10000)")
    group.add_argument(
        "--alert-seconds", type=float, help="seconds of live ingest while rules run (30)"
    )
    group.add_argument(
        "--fanout-rounds", type=int, help="measurement rounds per server, alternating (3)"
    )
    group.add_argument(
        "--fanout-interval-ms", type=float, default=100.0, help="pause between publishes (100)"
    )
    group.add_argument(
        "--live-subscribers", type=int, default=500, help="subscribers beside ingest (500)"
    )
    group.add_argument(
        "--isolation-seconds", type=float, help="seconds of each isolation phase (20)"
    )
    group.add_argument(
        "--cardinality-series", type=int, help="series of the cardinality benchmark (100,000)"
    )
    group.add_argument(
        "--neighbour-points",
        type=int,
        help="tenant A's points in the neighbour-volume benchmark (18,000,000)",
    )
    group.add_argument(
        "--behaviour-events", type=int, help="events of the behaviour benchmark (10,000,000)"
    )
    group.add_argument(
        "--behaviour-es-events",
        type=int,
        help="events of its Elasticsearch request count (200,000)",
    )
    group.add_argument(
        "--fanout-deflate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="subscribers offer permessage-deflate, as browsers do (default: on)",
    )
    return parser


def _pick(value: int | None, default: int, quick: int, is_quick: bool) -> int:
    if value is not None:
        return value
    return quick if is_quick else default


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    only = set(args.only or BENCHMARKS)
    q = args.quick
    print(
        f"analytics-gateway benchmarks{' (quick)' if q else ''}: python {platform.python_version()}"
        f", {os.cpu_count()} CPUs, {platform.platform()}",
        flush=True,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ag-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    profile_dir: Path | None = args.profile
    if profile_dir is not None:
        profile_dir = profile_dir.resolve()
        profile_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[Comparison] = []
    try:
        if "query" in only:
            rows += query_latency.run(
                query_latency.QueryOptions(
                    requests=_pick(args.query_requests, 200, 50, q), warmup=10 if q else 20
                ),
                workdir,
                profile_dir,
            )
        if "ingest" in only:
            rows += ingest.run(
                ingest.IngestOptions(
                    points=_pick(args.ingest_points, 200_000, 40_000, q),
                    batch=args.ingest_batch,
                    concurrency=args.ingest_concurrency,
                ),
                workdir,
                profile_dir,
            )
        if "fanout" in only:
            rows += fanout.run(
                fanout.FanoutOptions(
                    clients=_pick(args.fanout_clients, 1000, 300, q),
                    messages=_pick(args.fanout_messages, 20, 10, q),
                    rounds=_pick(args.fanout_rounds, 3, 1, q),
                    interval_s=args.fanout_interval_ms / 1000,
                    deflate=args.fanout_deflate,
                ),
                workdir,
                profile_dir,
            )
        if "influx" in only:
            rows += influx.run(
                influx.InfluxOptions(
                    points=_pick(args.ingest_points, 200_000, 40_000, q),
                    batch=args.ingest_batch,
                    concurrency=args.ingest_concurrency,
                    requests=_pick(args.query_requests, 200, 50, q),
                    warmup=10 if q else 20,
                ),
                workdir,
                profile_dir,
            )
        if "dashboard" in only:
            rows += dashboard.run(
                dashboard.DashboardOptions(rounds=_pick(args.dashboard_rounds, 60, 20, q)),
                workdir,
                profile_dir,
            )
        if "ml" in only:
            rows += ml.run(
                ml.MlOptions(
                    points=_pick(args.ml_points, 1_000_000, 200_000, q),
                    detector=args.ml_detector,
                    repeats=2 if q else 3,
                ),
                workdir,
                profile_dir,
            )
        if "alerts" in only:
            seconds = (
                args.alert_seconds if args.alert_seconds is not None else (10.0 if q else 30.0)
            )
            rows += alerts.run(
                alerts.AlertOptions(
                    rules=_pick(args.alert_rules, 10_000, 2_000, q), seconds=seconds
                ),
                workdir,
            )
        if "live-ingest" in only:
            rows += live_ingest.run(
                live_ingest.LiveIngestOptions(
                    subscribers=args.live_subscribers, seconds=5.0 if q else 10.0
                ),
                workdir,
                profile_dir,
            )
        if "isolation" in only:
            seconds = args.isolation_seconds or (6.0 if q else 20.0)
            rows += isolation.run(isolation.IsolationOptions(seconds=seconds), workdir)
        if "cardinality" in only:
            rows += cardinality.run(
                cardinality.CardinalityOptions(
                    series=_pick(args.cardinality_series, 100_000, 20_000, q),
                    requests=3 if q else 5,
                ),
                workdir,
            )
        if "tracing" in only:
            rows += tracing_overhead.run(
                tracing_overhead.TracingOptions(
                    requests=_pick(args.query_requests, 200, 50, q), warmup=10 if q else 20
                ),
                workdir,
            )
        if "behaviour" in only:
            events = _pick(args.behaviour_events, 10_000_000, 1_000_000, q)
            rows += behaviour.run(
                behaviour.BehaviourOptions(
                    events=events,
                    users=max(events // 20, 1),
                    repeats=3 if q else 5,
                    es_events=_pick(args.behaviour_es_events, 200_000, 50_000, q),
                ),
                workdir,
            )
        if "neighbour-volume" in only:
            rows += neighbour_volume.run(
                neighbour_volume.NeighbourVolumeOptions(
                    points=_pick(args.neighbour_points, 18_000_000, 2_000_000, q)
                ),
                workdir,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\ndata and server logs kept in {workdir}")
    print(f"\n== summary ({time.monotonic() - started:.0f} s) ==")
    print(table(rows))
    for row in rows:
        for note in row.notes:
            print(f"  {row.benchmark}: {note}")
    if profile_dir is not None:
        print(f"\nprofiles in {profile_dir} (python -m pstats FILE, then: sort cumtime, stats 30)")
    missed = any(r.verdict == "FAIL" for r in rows)
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
