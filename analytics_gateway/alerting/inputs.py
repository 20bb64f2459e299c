"""What a live evaluation round reads: selector values and band histories.

`RoundReads` plans one round's store reads for every due rule (see
`evaluate.plan_reads`), and `RoundInputs` answers a rule's selectors and
bands from the results. Band histories are long (days) and change slowly, so
they are cached per read (all series of the metric, whatever the rule's
labels) and refreshed once per band resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics_gateway.alerting.band import (
    Band,
    FloatArray,
    IntArray,
    as_arrays,
    band_at,
    resolution_ms,
)
from analytics_gateway.alerting.evaluate import Read, Vector, latest_values, pushdown, select
from analytics_gateway.alerting.expr import Condition, Logic, Not, Outside, Selector
from analytics_gateway.alerting.model import MatchOp
from analytics_gateway.domain import Aggregation, Series, canonical_labels

History = dict[str, tuple[IntArray, FloatArray]]


def value_read(tenant: str, selector: Selector) -> Read:
    return Read(tenant, selector.metric, selector.function, selector.window_ms)


def band_read(tenant: str, outside: Outside) -> Read:
    res = resolution_ms(outside.window_ms)
    return Read(tenant, outside.selector.metric, Aggregation.AVG, outside.window_ms, res)


def outsides(condition: Condition) -> list[Outside]:
    found: list[Outside] = []
    stack = [condition.root]
    while stack:
        node = stack.pop()
        if isinstance(node, Outside):
            found.append(node)
        elif isinstance(node, Logic):
            stack += [node.left, node.right]
        elif isinstance(node, Not):
            stack.append(node.operand)
    return found


def histories(series: list[Series]) -> History:
    return {canonical_labels(s.labels): as_arrays(s.timestamps, s.values) for s in series}


@dataclass
class BandCache:
    """Band histories per read, with the time they were fetched."""

    entries: dict[Read, tuple[int, History]] = field(default_factory=dict)

    def stale(self, read: Read, now_ms: int) -> bool:
        entry = self.entries.get(read)
        return entry is None or now_ms - entry[0] >= (read.step_ms or 60_000)

    def put(self, read: Read, now_ms: int, series: list[Series]) -> None:
        self.entries[read] = (now_ms, histories(series))

    def get(self, read: Read) -> History:
        entry = self.entries.get(read)
        return {} if entry is None else entry[1]


class RoundInputs:
    """`Inputs` for one tenant's rules in one round, memoised across its rules."""

    def __init__(
        self,
        tenant: str,
        now_ms: int,
        results: dict[Read, list[Series]],
        bands: BandCache,
    ) -> None:
        self._tenant = tenant
        self._now = now_ms
        self._results = results
        self._bands = bands
        self._vectors: dict[Read, Vector] = {}
        self._indexes: dict[tuple[Read, str], dict[str, list[str]]] = {}
        self._band_memo: dict[tuple[Read, str, str], Band | None] = {}

    def values(self, selector: Selector) -> Vector:
        read = value_read(self._tenant, selector)
        vector = self._vectors.get(read)
        if vector is None:
            vector = self._vectors[read] = latest_values(self._results.get(read, []))
        equal = next((m for m in selector.matchers if m.op is MatchOp.EQ), None)
        if equal is None:
            return select(vector, selector)
        # many rules pick a few series out of one shared read: index it by label value
        index = self._indexes.get((read, equal.label))
        if index is None:
            index = self._indexes[(read, equal.label)] = {}
            for key, item in vector.items():
                index.setdefault(item[0].get(equal.label, ""), []).append(key)
        return {
            key: vector[key]
            for key in index.get(equal.value, ())
            if selector.selects(vector[key][0])
        }

    def band(self, outside: Outside, key: str) -> Band | None:
        read = band_read(self._tenant, outside)
        memo_key = (read, key, outside.sensitivity)
        if memo_key not in self._band_memo:
            arrays = self._bands.get(read).get(key)
            self._band_memo[memo_key] = (
                None
                if arrays is None
                else band_at(
                    arrays[0], arrays[1], self._now, outside.window_ms, outside.sensitivity
                )
            )
        return self._band_memo[memo_key]


def wanted_reads(
    tenant: str, condition: Condition, bands: BandCache, now_ms: int
) -> tuple[list[tuple[Read, tuple[tuple[str, str], ...]]], list[Read]]:
    """(reads with their label pushdown, band reads to refresh) for one rule."""
    wanted = [(value_read(tenant, s), pushdown(s)) for s in condition.selectors()]
    refresh = []
    for outside in outsides(condition):
        read = band_read(tenant, outside)
        if bands.stale(read, now_ms):
            wanted.append((read, ()))  # every series: the cache serves all rules on it
            refresh.append(read)
    return wanted, refresh
