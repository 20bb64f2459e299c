"""The condition language: what parses, what it means, and errors that point at the column."""

from __future__ import annotations

import pytest

from analytics_gateway.alerting.evaluate import Vector, evaluate
from analytics_gateway.alerting.expr import (
    Arith,
    Compare,
    ConditionError,
    Logic,
    Outside,
    Selector,
    parse_condition,
)
from analytics_gateway.alerting.model import MatchOp
from analytics_gateway.alerting.state import Result
from analytics_gateway.dashboards import formula
from analytics_gateway.domain import Aggregation, canonical_labels
from analytics_gateway.names import NAME_RE


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


def test_names_may_hold_a_dash_so_subtraction_after_a_name_takes_a_space() -> None:
    metric = parse_condition("http-errors > 5").root
    assert isinstance(metric, Compare)
    assert metric.left == Selector("http-errors", (), Aggregation.LAST, 300_000)

    windowed = parse_condition('avg(http-errors{code="5-xx", job-name!~"a-.*"}[5m]) > 5')
    [selector] = windowed.selectors()
    assert selector.metric == "http-errors"
    assert [(m.label, m.op, m.value) for m in selector.matchers] == [
        ("code", MatchOp.EQ, "5-xx"),
        ("job-name", MatchOp.NRE, "a-.*"),
    ]

    assert [s.metric for s in parse_condition("a-b > 1").selectors()] == ["a-b"]
    for spaced in ("a - b > 1", "a -b > 1", "(a)-b > 1"):
        root = parse_condition(spaced).root
        assert isinstance(root, Compare), spaced
        assert isinstance(root.left, Arith), spaced
        assert root.left.op == "-"
        assert [s.metric for s in parse_condition(spaced).selectors()] == ["a", "b"]


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("http-errors- requests > 1", 1, "'http-errors-' cannot end with '-'"),
        ("a > b- 1", 5, "write subtraction with spaces (a - b)"),
        ("cpu_$host > 90", 1, "'cpu_$host' holds a dashboard variable"),
        ("avg(${metric}[5m]) > 90", 5, "holds a dashboard variable"),
        ('cpu{$label="a"} > 90', 5, "'$label' holds a dashboard variable"),
        ("(" * 40 + "x" + ")" * 40 + " > 1", 32, "nested too deeply"),
        ("-" * 1000 + "x > 1", 32, "nested too deeply"),
        ("not " * 40 + "x > 1", 125, "nested too deeply"),
        ("+".join(["1"] * 900) + " > x", 1, "more than 64 parts"),
        ("x" * 201 + " > 1", 1, "is not a metric name"),
    ],
)
def test_dashes_variables_and_deep_nesting_are_refused_with_a_reason(
    source: str, column: int, fragment: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    assert caught.value.column == column
    assert fragment in caught.value.message


def test_label_values_keep_what_was_written() -> None:
    [selector] = parse_condition(r'x{city="München", q="a\"b", re=~"\d+\.\d"} > 1').selectors()
    assert [m.value for m in selector.matchers] == ["München", 'a"b', r"\d+\.\d"]
    [odd] = parse_condition(r'x{a="\x"} > 1').selectors()  # not an escape: kept as written
    assert odd.matchers[0].value == r"\x"


@pytest.mark.parametrize("name", ["a", "http-errors", "_x", ":a:b", "a.b-c_d:e", "a--b", "x-1"])
def test_every_ingestible_name_not_ending_in_a_dash_is_one_metric_in_both_languages(
    name: str,
) -> None:
    assert NAME_RE.match(name)
    assert [s.metric for s in parse_condition(f"{name} > 1").selectors()] == [name]
    assert formula.parse(name) == formula.MetricRef(name)
    assert formula.parse(f'{name}{{k="v"}} * 2') == formula.Binary(
        "*", formula.MetricRef(name, (("k", "v"),)), formula.Number(2.0)
    )
