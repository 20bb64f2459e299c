"""Structured metric queries become the PromQL (and times) that mean the same thing."""

from __future__ import annotations

import pytest

from analytics_gateway.backends.promql_queries import to_request
from analytics_gateway.domain import Aggregation, MetricQuery, MetricSource
from analytics_gateway.errors import BadUserInput

START, END = 1_000_000, 1_060_000  # one minute, not aligned to the steps below


def query(**shape: object) -> MetricQuery:
    values: dict[str, object] = {
        "tenant": "acme",
        "name": "http.requests-total",
        "labels": (("host", 'a"b'),),
        "start_ms": START,
        "end_ms": END,
        "source": MetricSource.PROMETHEUS,
        **shape,
    }
    return MetricQuery(**values)  # type: ignore[arg-type]


def test_raw_reads_the_samples_of_the_range_with_one_instant_query() -> None:
    request = to_request(query())
    assert request.expr == '{__name__="http.requests-total",host="a\\"b"}[60000ms]'
    assert request.step_ms is None
    assert request.end_ms == END - 1  # evaluated at the last millisecond of [start, end)
    assert (request.keep_from_ms, request.keep_until_ms) == (START, END)
    assert request.shift_ms == 0


@pytest.mark.parametrize(
    ("aggregation", "function"),
    [
        (Aggregation.AVG, "avg_over_time({s}[10000ms])"),
        (Aggregation.SUM, "sum_over_time({s}[10000ms])"),
        (Aggregation.MIN, "min_over_time({s}[10000ms])"),
        (Aggregation.MAX, "max_over_time({s}[10000ms])"),
        (Aggregation.COUNT, "count_over_time({s}[10000ms])"),
        (Aggregation.LAST, "last_over_time({s}[10000ms])"),
        (Aggregation.P50, "quantile_over_time(0.5, {s}[10000ms])"),
        (Aggregation.P95, "quantile_over_time(0.95, {s}[10000ms])"),
        (Aggregation.P99, "quantile_over_time(0.99, {s}[10000ms])"),
        (Aggregation.RATE, "rate({s}[10000ms])"),
    ],
)
def test_each_aggregation_maps_to_its_over_time_function(
    aggregation: Aggregation, function: str
) -> None:
    request = to_request(query(step_ms=10_000, aggregation=aggregation, labels=()))
    assert request.expr == function.format(s='{__name__="http.requests-total"}')


def test_buckets_align_to_the_step_and_are_reported_at_their_start() -> None:
    request = to_request(query(step_ms=10_000, aggregation=Aggregation.SUM))
    # buckets [1_000_000, 1_010_000) ... [1_060_000, 1_070_000) hold [START, END)
    assert request.step_ms == 10_000
    assert request.start_ms == 1_000_000 + 10_000 - 1  # each window ends at its bucket's end
    assert request.end_ms == 1_050_000 + 10_000 - 1
    assert request.shift_ms == 10_000 - 1
    unaligned = to_request(query(start_ms=1_003_000, end_ms=1_021_000, step_ms=10_000))
    assert unaligned.start_ms - unaligned.shift_ms == 1_000_000
    assert unaligned.end_ms - unaligned.shift_ms == 1_020_000


def test_a_step_alone_means_avg_per_bucket() -> None:
    assert to_request(query(step_ms=5_000, labels=())).expr.startswith("avg_over_time(")


def test_an_aggregation_without_step_is_one_bucket_over_the_range() -> None:
    request = to_request(query(aggregation=Aggregation.MAX, labels=()))
    assert request.expr == 'max_over_time({__name__="http.requests-total"}[60000ms])'
    assert request.step_ms is None
    assert request.end_ms - request.shift_ms == START


@pytest.mark.parametrize(
    ("aggregation", "expr"),
    [
        (Aggregation.SUM, "sum by (host, job) (sum_over_time({w}))"),
        (Aggregation.COUNT, "sum by (host, job) (count_over_time({w}))"),
        (Aggregation.MIN, "min by (host, job) (min_over_time({w}))"),
        (Aggregation.MAX, "max by (host, job) (max_over_time({w}))"),
        (
            Aggregation.AVG,
            "sum by (host, job) (sum_over_time({w})) / sum by (host, job) (count_over_time({w}))",
        ),
        (Aggregation.RATE, "sum by (host, job) (rate({w}))"),
    ],
)
def test_group_by_pools_the_points_of_each_group(aggregation: Aggregation, expr: str) -> None:
    request = to_request(
        query(labels=(), step_ms=60_000, aggregation=aggregation, group_by=("host", "job"))
    )
    assert request.expr == expr.format(w='{__name__="http.requests-total"}[60000ms]')


def test_an_empty_group_by_merges_every_series() -> None:
    request = to_request(query(labels=(), aggregation=Aggregation.SUM, group_by=()))
    assert request.expr.startswith("sum by () (")


@pytest.mark.parametrize(
    "aggregation", [Aggregation.LAST, Aggregation.P50, Aggregation.P95, Aggregation.P99]
)
def test_aggregations_without_an_exact_grouped_form_are_refused(aggregation: Aggregation) -> None:
    with pytest.raises(BadUserInput, match="groupBy"):
        to_request(query(aggregation=aggregation, group_by=("host",)))


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        ({"labels": (("my.label", "x"),)}, "labels"),
        ({"group_by": ("a-b",), "aggregation": Aggregation.SUM}, "groupBy"),
        ({"group_by": ("1x",), "aggregation": Aggregation.SUM}, "groupBy"),
    ],
)
def test_label_names_prometheus_cannot_express_are_refused(
    shape: dict[str, object], field: str
) -> None:
    with pytest.raises(BadUserInput) as caught:
        to_request(query(**shape))
    assert caught.value.extensions["field"] == field
