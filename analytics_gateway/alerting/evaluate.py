"""Interpret a parsed condition over values read from the store.

Every selector yields one value per series. Two sides of an operator pair up
series with identical labels; a side holding a single series pairs with every
series of the other (so `errors / requests` works for labelled and unlabelled
series alike). A comparison keeps its left value, which annotations show as
`$value`. The result is one `Outcome` per series: the rule's instances.

Reads are planned for a whole round at once (`plan_reads`): selectors of all
due rules that read the same metric, function and window share one store query
(label filters applied here when they differ), so a round costs ONE
`query_many` with as few queries as the rules allow.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from analytics_gateway.alerting.band import Band
from analytics_gateway.alerting.expr import (
    Arith,
    Compare,
    Condition,
    Logic,
    Minus,
    Node,
    Not,
    Number,
    Outside,
    Selector,
)
from analytics_gateway.alerting.model import MatchOp
from analytics_gateway.alerting.state import Outcome, Result
from analytics_gateway.domain import Aggregation, MetricQuery, Series, canonical_labels

Labels = dict[str, str]
Vector = dict[str, tuple[Labels, float]]
Truth = dict[str, tuple[Labels, bool, float]]
A = TypeVar("A", bound=tuple[Any, ...])
B = TypeVar("B", bound=tuple[Any, ...])


class Inputs(Protocol):
    """What an evaluation reads: selector values and bands, at one moment."""

    def values(self, selector: Selector) -> Vector: ...

    def band(self, outside: Outside, key: str) -> Band | None: ...


class EvaluationError(Exception):
    """The condition could not be computed (e.g. a store read failed)."""


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: a / b if b != 0 else (math.nan if a == 0 else math.copysign(math.inf, a)),
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _pairs(left: Mapping[str, A], right: Mapping[str, B]) -> list[tuple[str, Labels, A, B]]:
    """(key, labels, left item, right item) for series that pair up (see module doc)."""
    if len(right) == 1:
        ((right_key, right_item),) = right.items()
        if len(left) == 1 or right_key not in left:
            return [(k, item[0], item, right_item) for k, item in left.items()]
    if len(left) == 1:
        ((left_key, left_item),) = left.items()
        if left_key not in right:
            return [(k, item[0], left_item, item) for k, item in right.items()]
    return [(k, item[0], item, right[k]) for k, item in left.items() if k in right]


def _numeric(node: Node, inputs: Inputs) -> Vector | float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Selector):
        return inputs.values(node)
    if isinstance(node, Minus):
        inner = _numeric(node.operand, inputs)
        if isinstance(inner, float):
            return -inner
        return {k: (lbl, -v) for k, (lbl, v) in inner.items()}
    assert isinstance(node, Arith)
    fn = _ARITH[node.op]
    left = _numeric(node.left, inputs)
    right = _numeric(node.right, inputs)
    if isinstance(left, float) and isinstance(right, float):
        return fn(left, right)
    if isinstance(left, float):
        assert not isinstance(right, float)
        return _finite({k: (lbl, fn(left, v)) for k, (lbl, v) in right.items()})
    if isinstance(right, float):
        return _finite({k: (lbl, fn(v, right)) for k, (lbl, v) in left.items()})
    out: Vector = {}
    for key, labels, (_, lv), (_, rv) in _pairs(left, right):
        out[key] = (labels, fn(lv, rv))
    return _finite(out)


def _finite(vector: Vector) -> Vector:
    """Drop NaN and infinities (e.g. 0/0): such a series has no value this round."""
    return {k: item for k, item in vector.items() if math.isfinite(item[1])}


def _truth(node: Node, inputs: Inputs) -> Truth:
    if isinstance(node, Compare):
        fn = _COMPARE[node.op]
        left = _numeric(node.left, inputs)
        right = _numeric(node.right, inputs)
        if isinstance(right, float) and not isinstance(left, float):
            return {k: (lbl, fn(v, right), v) for k, (lbl, v) in left.items()}
        if isinstance(left, float) and not isinstance(right, float):
            return {k: (lbl, fn(left, v), v) for k, (lbl, v) in right.items()}
        assert not isinstance(left, float)
        assert not isinstance(right, float)
        return {
            key: (labels, fn(lv, rv), lv) for key, labels, (_, lv), (_, rv) in _pairs(left, right)
        }
    if isinstance(node, Logic):
        left_t = _truth(node.left, inputs)
        right_t = _truth(node.right, inputs)
        if node.op == "and":
            return {
                key: (labels, lt[1] and rt[1], lt[2])
                for key, labels, lt, rt in _pairs(left_t, right_t)
            }
        out = dict(left_t)
        for key, item in right_t.items():
            if key in out:
                labels, held, value = out[key]
                out[key] = (labels, held or item[1], value if held or not item[1] else item[2])
            else:
                out[key] = item
        return out
    if isinstance(node, Not):
        return {k: (lbl, not held, v) for k, (lbl, held, v) in _truth(node.operand, inputs).items()}
    assert isinstance(node, Outside)
    out_t: Truth = {}
    for key, (labels, value) in inputs.values(node.selector).items():
        band = inputs.band(node, key)
        out_t[key] = (labels, band is not None and band.outside(value), value)
    return out_t


def evaluate(condition: Condition, inputs: Inputs) -> dict[str, tuple[Labels, Outcome]]:
    """One outcome per series the condition covers; empty when nothing has data."""
    truth = _truth(condition.root, inputs)
    return {
        key: (labels, Outcome(Result.HOLDS if held else Result.CLEAR, value))
        for key, (labels, held, value) in truth.items()
    }


# -- planning the reads of a round ---------------------------------------------


@dataclass(frozen=True)
class Read:
    """One store query shared by every selector with the same metric, function, window."""

    tenant: str
    metric: str
    aggregation: Aggregation
    window_ms: int
    step_ms: int | None = None

    def query(self, now_ms: int, labels: tuple[tuple[str, str], ...]) -> MetricQuery:
        return MetricQuery(
            tenant=self.tenant,
            name=self.metric,
            labels=labels,
            start_ms=now_ms - self.window_ms,
            end_ms=now_ms + 1,
            step_ms=self.step_ms,
            aggregation=self.aggregation,
        )


def pushdown(selector: Selector) -> tuple[tuple[str, str], ...]:
    """The equality matchers, which the store can filter on."""
    return tuple(sorted((m.label, m.value) for m in selector.matchers if m.op is MatchOp.EQ))


def plan_reads(
    wanted: Iterable[tuple[Read, tuple[tuple[str, str], ...]]], now_ms: int
) -> tuple[list[MetricQuery], dict[Read, int]]:
    """Queries for a round: one per `Read`, filtered only if all its users filter alike."""
    filters: dict[Read, set[tuple[tuple[str, str], ...]]] = {}
    for read, labels in wanted:
        filters.setdefault(read, set()).add(labels)
    queries: list[MetricQuery] = []
    index: dict[Read, int] = {}
    for read, label_sets in filters.items():
        labels = next(iter(label_sets)) if len(label_sets) == 1 else ()
        index[read] = len(queries)
        queries.append(read.query(now_ms, labels))
    return queries, index


def latest_values(series: Iterable[Series]) -> Vector:
    """The last value of each series, keyed by its canonical labels."""
    return {
        canonical_labels(s.labels): (s.labels, s.values[-1])
        for s in series
        if s.values and math.isfinite(s.values[-1])
    }


def select(vector: Vector, selector: Selector) -> Vector:
    return {k: item for k, item in vector.items() if selector.selects(item[0])}
