"""The condition language: what parses, what it means, and errors that point at the column."""

from __future__ import annotations

import pytest

from analytics_gateway.alerting.evaluate import Vector, evaluate
from analytics_gateway.alerting.expr import (
    Compare,
    ConditionError,
    Logic,
    Outside,
    Selector,
    parse_condition,
)
from analytics_gateway.alerting.model import MatchOp
from analytics_gateway.alerting.state import Result
from analytics_gateway.domain import Aggregation, canonical_labels


def test_the_brief_conditions_parse() -> None:
    simple = parse_condition("error_rate > 0.05").root
    assert isinstance(simple, Compare)
    assert simple.left == Selector("error_rate", (), Aggregation.LAST, 300_000)

    windowed = parse_condition('avg(cpu_usage{host="a"}[5m]) > 90').root
    assert isinstance(windowed, Compare)
    assert isinstance(windowed.left, Selector)
    assert windowed.left.function is Aggregation.AVG
    assert windowed.left.window_ms == 300_000
    assert [(m.label, m.op, m.value) for m in windowed.left.matchers] == [("host", MatchOp.EQ, "a")]

    p95 = parse_condition("p95(latency_ms[10m]) > 250").selectors()
    assert p95 == [Selector("latency_ms", (), Aggregation.P95, 600_000)]

    both = parse_condition("errors / requests > 0.05 and not up == 0").root
    assert isinstance(both, Logic)
    assert both.op == "and"

    band = parse_condition("cpu_usage outside band(7d, sensitivity=high)")
    assert band.is_dynamic
    assert isinstance(band.root, Outside)
    assert (band.root.window_ms, band.root.sensitivity) == (7 * 86_400_000, "high")


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("error_rate >", 13, "expected '(', '-', a name, a number"),
        ("avg(cpu_usage[5m] > 90", 19, "expected ')'"),
        ("x{host=a} > 1", 8, "expected a quoted string"),
        ("cpu > 1 and", 12, "unexpected end of condition"),
        ("x > $", 5, "unexpected character '$'"),
        ("foo(x[5m]) > 1", 1, "unknown function foo"),
        ("x[5m] > 1", 1, "a window needs a function"),
        ("x outside band(7d, sensitivity=extreme)", 20, "low, medium or high"),
        ("(a + b) outside band(1d)", 2, "must be one metric"),
        ("a > 1 and 2", 11, "must be a condition"),
        ("error_rate", 1, "must compare"),
        ('x{a=~"("} > 1', 6, "invalid regular expression"),
    ],
)
def test_errors_name_the_column_and_what_was_expected(
    source: str, column: int, fragment: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    assert caught.value.column == column
    assert fragment in caught.value.message
    assert caught.value.extensions["column"] == column


class FixedInputs:
    def __init__(self, vectors: dict[str, Vector]) -> None:
        self.vectors = vectors

    def values(self, selector: Selector) -> Vector:
        return {
            k: v for k, v in self.vectors.get(selector.metric, {}).items() if selector.selects(v[0])
        }

    def band(self, outside: Outside, key: str) -> None:
        return None


def _vector(**by_host: float) -> Vector:
    return {canonical_labels({"host": h}): ({"host": h}, v) for h, v in by_host.items()}


def test_series_pair_by_labels_and_a_single_series_broadcasts() -> None:
    inputs = FixedInputs(
        {
            "errors": _vector(a=10.0, b=1.0, c=0.0),
            "requests": _vector(a=100.0, b=100.0, c=0.0),
            "limit": {canonical_labels({}): ({}, 0.05)},
        }
    )
    outcomes = evaluate(parse_condition("errors / requests > limit"), inputs)
    by_host = {labels["host"]: o for labels, o in outcomes.values()}
    assert by_host["a"].result is Result.HOLDS
    assert by_host["a"].value == pytest.approx(0.1)
    assert by_host["b"].result is Result.CLEAR
    assert "c" not in by_host  # 0/0 has no value: no data for that series

    picked = evaluate(parse_condition('errors{host!="a"} >= 1 or requests{host="a"} > 99'), inputs)
    assert {lbl["host"]: o.result for lbl, o in picked.values()} == {
        "a": Result.HOLDS,
        "b": Result.HOLDS,
        "c": Result.CLEAR,
    }
