"""Benchmark 13: a tenant's small read, alone and beside its neighbour's volume.

The embedded store, in this process, read the way the gateway reads it
(`read_if_light`: the series count and the read in one call). Tenant B has 5
series with a point every 10 s; its read is the isolation benchmark's small
one: the last 15 minutes in 1-minute steps. B's p50 is measured in a store
with B alone (the baseline), then in one where tenant A wrote `points` points
(500 series) into the same 15 minutes, B's points written among them, as two
tenants writing at once do. The default is what A may write in 15 minutes at
its default rate (20,000 points a second).

Target: B's p50 beside A is within 1.5x of alone. With one points table for
all tenants, B's read scanned all of A's points in its range: 3.5x and 4.4x.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.domain import BatchColumns, MetricPoint, MetricQuery, PointBatch
from bench.common import Comparison, percentile, run_async, say, section

WINDOW_MS = 15 * 60_000
STEP_MS = 60_000
A_SERIES = 500
BATCH = 50_000  # points per write: the largest batch the gateway takes


@dataclass(frozen=True)
class NeighbourVolumeOptions:
    points: int = 18_000_000
    reads: int = 200


def _victim_batch(now_ms: int, start_ms: int, end_ms: int) -> PointBatch:
    points = [
        MetricPoint("b", "b_cpu", {"host": f"h{h}"}, ts, float(ts % 100))
        for ts in range(start_ms - start_ms % 10_000, end_ms, 10_000)
        if now_ms - WINDOW_MS <= ts < now_ms
        for h in range(5)
    ]
    return PointBatch.of("b", points)


def _neighbour_columns(
    first: int, count: int, start_ms: int, span_ms: int, total: int
) -> BatchColumns:
    refs = (
        PointBatch.of(
            "a", [MetricPoint("a", "flood", {"host": f"h{i}"}, 0, 0.0) for i in range(A_SERIES)]
        )
        .columns()
        .series
    )
    index = np.arange(first, first + count, dtype=np.int64)
    return BatchColumns(
        series=refs,
        codes=(index % A_SERIES).astype(np.intp),
        timestamps=start_ms + index * span_ms // total,
        values=(index % 1000).astype(np.float64),
    )


async def _p50_of_reads(store: DuckDBStore, query: MetricQuery, reads: int) -> float:
    for _ in range(10):
        await store.read_if_light([query], lambda _: True)
    took: list[float] = []
    for _ in range(reads):
        started = time.perf_counter()
        _, answers = await store.read_if_light([query], lambda _: True)
        took.append((time.perf_counter() - started) * 1000)
        if answers is None or len(answers[0]) != 5:
            raise RuntimeError(f"B's read lost its series: {answers!r}")
    return percentile(took, 50)


async def _b_read_p50(path: Path, options: NeighbourVolumeOptions, a_points: int) -> float:
    """B's p50 in a store where B wrote its 15 minutes among `a_points` of A's."""
    now_ms = int(time.time() * 1000) // 1000 * 1000
    start_ms = now_ms - WINDOW_MS + 10_000
    span_ms = WINDOW_MS - 20_000
    chunks = max(1, -(-options.points // BATCH))  # B writes in as many pieces either way
    query = MetricQuery("b", "b_cpu", (), now_ms - WINDOW_MS, now_ms, STEP_MS, None)
    store = DuckDBStore(path)
    try:
        for chunk in range(chunks):
            first = chunk * options.points // chunks
            last = (chunk + 1) * options.points // chunks
            if a_points:
                columns = _neighbour_columns(first, last - first, start_ms, span_ms, a_points)
                await store.write_batch(PointBatch.from_columns("a", columns))
            first_ms = start_ms + first * span_ms // options.points
            last_ms = start_ms + last * span_ms // options.points
            await store.write_batch(_victim_batch(now_ms, first_ms, last_ms))
        return await _p50_of_reads(store, query, options.reads)
    finally:
        await store.close()


def run(options: NeighbourVolumeOptions, workdir: Path) -> list[Comparison]:
    section("neighbour volume: B's small read before and after A's points")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        before = run_async(_b_read_p50(Path(tmp) / "alone.duckdb", options, 0))
        after = run_async(_b_read_p50(Path(tmp) / "shared.duckdb", options, options.points))
    say(f"tenant A wrote {options.points:,} points in B's 15 minutes, B's among them")
    say(f"B's small read p50: {before:.2f} ms alone, {after:.2f} ms beside A's points")
    return [
        Comparison(
            benchmark=f"neighbour volume: B's small read p50 beside A's {options.points:,} points",
            unit="ms",
            gateway=after,
            baseline=before,
            higher_is_better=False,
            target=1.5,
            notes=["baseline: the same read of the same points, in a store with B alone"],
        )
    ]
