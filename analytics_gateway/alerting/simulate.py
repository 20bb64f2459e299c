"""Replay stored history through the whole alert chain, as if the rule had been live.

The history is read once (raw points for the selectors, plus band histories
shaped exactly as the scheduler reads them), then the rule is evaluated at
every interval step over the range with the scheduler's own code:
`evaluate` for the condition, `band_at` for bands, and `engine.advance` for
the pending period, keep-firing, no-data, grouping and silences. What differs
is only where a window's aggregate comes from: computed here over the raw
points (same definitions as the store's) instead of one store query per step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from analytics_gateway.alerting.band import Band, FloatArray, IntArray, as_arrays, band_at
from analytics_gateway.alerting.engine import RuleState, advance
from analytics_gateway.alerting.evaluate import Read, Vector, evaluate, pushdown
from analytics_gateway.alerting.expr import Condition, Outside, Selector
from analytics_gateway.alerting.inputs import band_read, histories, outsides
from analytics_gateway.alerting.model import AlertRule, Silence
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.domain import Aggregation, MetricQuery, canonical_labels
from analytics_gateway.errors import BadUserInput

MAX_STEPS = 20_000
YIELD_EVERY_SECONDS = 0.02  # the longest the replay holds the event loop at a time


def _rate(ts: IntArray, vs: FloatArray) -> float:
    span = float(ts[-1] - ts[0])
    return float((vs[-1] - vs[0]) / (span / 1000.0)) if span > 0 else float("nan")


AGGREGATE: dict[Aggregation, Callable[[IntArray, FloatArray], float]] = {
    Aggregation.AVG: lambda ts, vs: float(np.mean(vs)),
    Aggregation.SUM: lambda ts, vs: float(np.sum(vs)),
    Aggregation.MIN: lambda ts, vs: float(np.min(vs)),
    Aggregation.MAX: lambda ts, vs: float(np.max(vs)),
    Aggregation.COUNT: lambda ts, vs: float(vs.size),
    Aggregation.LAST: lambda ts, vs: float(vs[-1]),
    Aggregation.P50: lambda ts, vs: float(np.quantile(vs, 0.5)),
    Aggregation.P95: lambda ts, vs: float(np.quantile(vs, 0.95)),
    Aggregation.P99: lambda ts, vs: float(np.quantile(vs, 0.99)),
    Aggregation.RATE: _rate,
}


class ReplayInputs:
    """`Inputs` at one step of the replay, over arrays read once."""

    def __init__(
        self,
        tenant: str,
        raw: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]],
        bands: dict[Read, dict[str, tuple[IntArray, FloatArray]]],
    ) -> None:
        self._tenant = tenant
        self._raw = raw
        self._bands = bands
        self.now_ms = 0

    def values(self, selector: Selector) -> Vector:
        out: Vector = {}
        start, end = self.now_ms - selector.window_ms, self.now_ms + 1
        for key, (labels, ts, vs) in self._raw[(selector.metric, pushdown(selector))].items():
            if not selector.selects(labels):
                continue
            lo, hi = np.searchsorted(ts, [start, end], side="left")
            if hi > lo:
                value = AGGREGATE[selector.function](ts[lo:hi], vs[lo:hi])
                if np.isfinite(value):
                    out[key] = (labels, value)
        return out

    def band(self, outside: Outside, key: str) -> Band | None:
        arrays = self._bands.get(band_read(self._tenant, outside), {}).get(key)
        if arrays is None:
            return None
        return band_at(arrays[0], arrays[1], self.now_ms, outside.window_ms, outside.sensitivity)


@dataclass
class Simulation:
    evaluations: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)


async def simulate(
    store: MetricStore,
    rule: AlertRule,
    condition: Condition,
    start_ms: int,
    end_ms: int,
    silences: Sequence[Silence] = (),
) -> Simulation:
    """Every transition and notification the rule would have produced in [start, end)."""
    step = rule.interval_ms
    steps = (end_ms - start_ms) // step
    if steps > MAX_STEPS:
        raise BadUserInput(
            f"last: {steps} evaluations at interval {step} ms; at most {MAX_STEPS}, "
            "shorten the range or lengthen the interval",
            field="last",
        )
    selectors = condition.selectors()
    longest = max((s.window_ms for s in selectors), default=0)
    raw_keys = sorted({(s.metric, pushdown(s)) for s in selectors})
    band_reads = sorted({band_read(rule.tenant, o) for o in outsides(condition)}, key=repr)
    queries = [
        MetricQuery(rule.tenant, metric, labels, start_ms - longest, end_ms)
        for metric, labels in raw_keys
    ] + [replace(r.query(end_ms, ()), start_ms=start_ms - r.window_ms) for r in band_reads]
    answers = await store.query_many(queries)
    raw = {
        key: {
            canonical_labels(s.labels): (s.labels, *as_arrays(s.timestamps, s.values))
            for s in series
        }
        for key, series in zip(raw_keys, answers, strict=False)
    }
    bands = {
        read: histories(series)
        for read, series in zip(band_reads, answers[len(raw_keys) :], strict=True)
    }
    inputs = ReplayInputs(rule.tenant, raw, bands)
    state = RuleState()
    result = Simulation()
    turn = time.perf_counter()
    for n in range(steps + 1):
        now = start_ms + n * step
        if now >= end_ms:
            break
        if time.perf_counter() - turn > YIELD_EVERY_SECONDS:
            # other requests get the loop, and the request's deadline can stop this here
            await asyncio.sleep(0)
            turn = time.perf_counter()
        inputs.now_ms = now
        adv = advance(rule, state, evaluate(condition, inputs), now, silences)
        state = adv.state
        result.evaluations += 1
        result.events += adv.events
        result.notifications += adv.notifications
    return result
