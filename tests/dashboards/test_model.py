"""The pure parts: KPI formulas, variables, layout, heatmaps, stored form."""

from __future__ import annotations

import pytest

from analytics_gateway.dashboards import catalogue, formula, variables
from analytics_gateway.dashboards.model import (
    DashboardSpec,
    Position,
    QueryKind,
    Variable,
    WidgetQuery,
    WidgetType,
    auto_positions,
)
from analytics_gateway.dashboards.planner import Window, auto_step
from analytics_gateway.dashboards.results import heatmap_of
from analytics_gateway.domain import Series
from analytics_gateway.errors import BadUserInput


def _value(text: str, **values: float | None) -> float | None:
    tree = formula.parse(text)
    return formula.evaluate(tree, {ref: values.get(ref.name) for ref in formula.metric_refs(tree)})


def test_formulas_follow_precedence_and_parentheses() -> None:
    assert _value("revenue / active_users", revenue=10, active_users=4) == 2.5
    assert _value("1 + 2 * 3") == 7
    assert _value("(1 + 2) * 3") == 9
    assert _value("10 - 4 - 3") == 3
    assert _value("-a * -2", a=3) == 6
    assert _value("2e3 / a", a=4) == 500
    assert _value("a / b", a=1, b=0) is None
    assert _value("a + b", a=1) is None


def test_formula_metrics_and_selectors() -> None:
    tree = formula.parse(
        'plays{country="$country", tier="paid"} / users + plays{country="$country", tier="paid"}'
    )
    refs = formula.metric_refs(tree)
    assert [r.name for r in refs] == ["plays", "users"]
    assert refs[0].labels == (("country", "$country"), ("tier", "paid"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a +", "unexpected end"),
        ("a b", "unexpected 'b'"),
        ("(a", "unexpected end"),
        ("a; import os", "unexpected character ';'"),
        ("__import__('os').system('x')", "unexpected character"),
        ("a{b=c}", "quoted value"),
        ("+".join(f"m{i}" for i in range(11)), "at most 10 metrics"),
        ("(" * 40 + "a" + ")" * 40, "nested too deeply"),
        ("-" * 40 + "a", "nested too deeply"),
        ("x" * 501, "longer than"),
    ],
)
def test_bad_formulas_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(BadUserInput) as error:
        formula.parse(text)
    assert message in error.value.message


def test_names_may_hold_a_dash_so_subtraction_after_a_name_takes_a_space() -> None:
    assert formula.parse("a-b") == formula.MetricRef("a-b")
    subtraction = formula.Binary("-", formula.MetricRef("a"), formula.MetricRef("b"))
    assert formula.parse("a - b") == subtraction
    assert formula.parse("a -b") == subtraction
    assert formula.parse("(a)-b") == subtraction
    assert _value("http-errors / requests", **{"http-errors": 6, "requests": 200}) == 0.03
    assert _value("x-1 - 1", **{"x-1": 5}) == 4
    assert _value("2-1") == 1  # a name starts with a letter, '_' or ':'
    with pytest.raises(BadUserInput) as error:
        formula.parse("http-errors- requests")
    assert error.value.message == (
        "formula: 'http-errors-' cannot end with '-': names may contain '-', "
        "so write subtraction with spaces (a - b) at column 1"
    )


def test_names_with_a_dash_in_selectors_and_variables() -> None:
    tree = formula.parse('http-errors{code="5-xx", host="$host"} / ${kind}-requests{a-b="c"}')
    assert formula.metric_refs(tree) == [
        formula.MetricRef("http-errors", (("code", "5-xx"), ("host", "$host"))),
        formula.MetricRef("${kind}-requests", (("a-b", "c"),)),
    ]
    assert formula.metric_refs(formula.parse("cpu_$host-total")) == [
        formula.MetricRef("cpu_$host-total")
    ]
    quoted = formula.parse(r'x{city="München", q="say \"hi\"", re="\d+"}')
    labels = (("city", "München"), ("q", 'say "hi"'), ("re", r"\d+"))
    assert quoted == formula.MetricRef("x", labels)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("avg(cpu)", "avg(...): a formula takes no functions"),
        ("cpu[5m] / 2", "cpu[5m]: a formula takes no windows"),
        ('cpu{host!="a"}', "label matchers take '=' only"),
        ('cpu{host=~"a.*"}', "label matchers take '=' only"),
        ("a > b", "unexpected '>': comparisons and 'and', 'or', 'not', 'outside' belong in alert"),
        ("(a > 1) * 2", "comparisons and 'and', 'or', 'not', 'outside' belong in alert"),
        ("a and b", "unexpected 'and'"),
        ('cpu{$label="a"}', "label name $label holds a variable"),
        ("a - $", "unexpected character '$'"),
        ("(" * 32 + "a" + ")" * 32, "nested too deeply"),
        ("-(" * 20 + "a" + ")" * 20, "nested too deeply"),
    ],
)
def test_what_only_conditions_take_is_refused_in_a_formula(text: str, message: str) -> None:
    with pytest.raises(BadUserInput) as error:
        formula.parse(text)
    assert message in error.value.message
    assert error.value.extensions["field"] == "formula"


def test_nesting_within_the_limit_and_long_sums_parse() -> None:
    assert _value("(" * 31 + "a" + ")" * 31, a=2) == 2
    assert _value("-" * 31 + "a", a=2) == -2
    assert _value(" + ".join(["1"] * 120)) == 120  # long, but not nested


def test_variables_substitute_and_empty_means_all() -> None:
    declared = [Variable("country", default="DE"), Variable("host")]
    values = variables.resolve(declared, {"host": "web-1"})
    assert values == {"country": "DE", "host": "web-1"}
    query = WidgetQuery(
        QueryKind.METRIC,
        name="cpu_$host",
        labels={"country": "${country}", "host": "$host", "fixed": "x"},
        group_by=("$host",),
    )
    applied = variables.apply(query, values)
    assert applied.name == "cpu_web-1"
    assert applied.labels == {"country": "DE", "host": "web-1", "fixed": "x"}
    everything = variables.apply(query, {"country": "", "host": ""})
    assert everything.labels == {"fixed": "x"}
    assert everything.group_by == ()
    with pytest.raises(BadUserInput):
        variables.resolve(declared, {"nope": "x"})
    with pytest.raises(BadUserInput):
        variables.resolve(declared, {"host": ["a"]})
    with pytest.raises(BadUserInput):
        variables.check_declared(WidgetQuery(QueryKind.FORMULA, formula='a{x="$y"}'), declared)


def test_auto_layout_flows_rows_on_the_twelve_column_grid() -> None:
    types = [WidgetType.KPI] * 4 + [WidgetType.CHART, WidgetType.CHART, WidgetType.HEATMAP]
    assert auto_positions(types) == [
        Position(0, 0, 3, 2),
        Position(3, 0, 3, 2),
        Position(6, 0, 3, 2),
        Position(9, 0, 3, 2),
        Position(0, 2, 6, 4),
        Position(6, 2, 6, 4),
        Position(0, 6, 6, 4),
    ]


def test_steps_and_previous_windows() -> None:
    assert auto_step(3_600_000) == 30_000
    assert auto_step(86_400_000) == 900_000
    assert auto_step(7 * 86_400_000) == 10_800_000
    window = Window(start=600_000, end=1_800_001, step=60_000)
    assert window.previous == Window(start=-600_000, end=600_000, step=60_000)


def test_heatmap_rows_are_series_and_columns_buckets() -> None:
    result = heatmap_of(
        [
            Series("plays", {"country": "US"}, [0, 60], [1.0, 2.0]),
            Series("plays", {"country": "DE"}, [60, 120], [3.0, 4.0]),
        ]
    )
    assert result.rows == ["DE", "US"]
    assert result.timestamps == [0, 60, 120]
    assert result.values == [[None, 3.0, 4.0], [1.0, 2.0, None]]


def test_the_demo_and_preset_dashboards_survive_their_stored_form() -> None:
    for spec in (catalogue.demo_spec(), catalogue.realtime_spec(list(catalogue.PRESETS), None)):
        assert DashboardSpec.from_document(spec.as_document()) == spec
    demo = catalogue.demo_spec()
    assert len(demo.widgets) == 12
    assert {w.type for w in demo.widgets} == set(WidgetType)
