"""Structured metric queries as PromQL, with the same meaning the store gives them.

Every expression built here is still unscoped: the source passes it through
`enforce_tenant` like any user query, so one code path adds the tenant
matcher. What each shape becomes:

* raw (no step, no aggregation, no groupBy): the instant query
  `sel[<range>]` evaluated at the end of the range, which returns the stored
  samples themselves (a range query would return values resampled at its
  step, not the points);
* per bucket: `<agg>_over_time(sel[<step>])` on a range query. Buckets are
  aligned to multiples of `step` like the store's; the value for the bucket
  starting at `b` is evaluated at `b + step - 1ms`, so its window is
  `[b, b + step)` (Prometheus 3; Prometheus 2's windows are closed, so a
  sample exactly 1 ms before `b` is also counted), and is reported at `b`;
* one aggregation without a step: the same over a single bucket that spans
  the range, reported at its start;
* groupBy combines the points of all series of a group, as the store does:
  SUM, COUNT, MIN and MAX combine exactly (`sum by` of the per-series sums
  and counts, `min by`/`max by` of the minima/maxima) and AVG is the sum of
  the points over their count; RATE is the sum of the per-series `rate()`s
  (Prometheus's reset-aware rate, not the store's first-to-last slope). LAST
  and the percentiles of points pooled across series have no exact PromQL
  form, so they are refused with groupBy.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.backends.promql_print import quote
from analytics_gateway.backends.promql_tenancy import LABEL_NAME_RE
from analytics_gateway.domain import Aggregation, MetricQuery
from analytics_gateway.errors import BadUserInput

_OVER_TIME = {
    Aggregation.AVG: "avg_over_time({sel})",
    Aggregation.SUM: "sum_over_time({sel})",
    Aggregation.MIN: "min_over_time({sel})",
    Aggregation.MAX: "max_over_time({sel})",
    Aggregation.COUNT: "count_over_time({sel})",
    Aggregation.LAST: "last_over_time({sel})",
    Aggregation.P50: "quantile_over_time(0.5, {sel})",
    Aggregation.P95: "quantile_over_time(0.95, {sel})",
    Aggregation.P99: "quantile_over_time(0.99, {sel})",
    Aggregation.RATE: "rate({sel})",
}

_GROUPED = {
    Aggregation.SUM: "sum by ({by}) (sum_over_time({sel}))",
    Aggregation.COUNT: "sum by ({by}) (count_over_time({sel}))",
    Aggregation.MIN: "min by ({by}) (min_over_time({sel}))",
    Aggregation.MAX: "max by ({by}) (max_over_time({sel}))",
    Aggregation.AVG: (
        "sum by ({by}) (sum_over_time({sel})) / sum by ({by}) (count_over_time({sel}))"
    ),
    Aggregation.RATE: "sum by ({by}) (rate({sel}))",
}


@dataclass(frozen=True)
class PromRequest:
    """One Prometheus call answering one `MetricQuery`.

    `step_ms` None means an instant query at `end_ms`; otherwise a range query
    from `start_ms` to `end_ms`. Result timestamps are moved back by `shift_ms`
    (to the start of their bucket) and points outside `[keep_from_ms,
    keep_until_ms)` are dropped.
    """

    expr: str
    start_ms: int
    end_ms: int
    step_ms: int | None
    shift_ms: int
    keep_from_ms: int
    keep_until_ms: int


def selector(query: MetricQuery) -> str:
    """`{__name__="<name>", <label>="<value>"...}` (the name may hold '.' or '-')."""
    parts = [f"__name__={quote(query.name)}"]
    for key, value in query.labels:
        _check_label(key, "labels")
        parts.append(f"{key}={quote(value)}")
    return "{" + ",".join(parts) + "}"


def to_request(query: MetricQuery) -> PromRequest:
    start, end = query.start_ms, query.end_ms
    sel = selector(query)
    if query.step_ms is None and query.aggregation is None and query.group_by is None:
        return PromRequest(f"{sel}[{end - start}ms]", start, end - 1, None, 0, start, end)
    aggregation = query.aggregation or Aggregation.AVG
    step = query.step_ms or max(end - start, 1)
    window = f"{sel}[{step}ms]"
    if query.group_by is None:
        expr = _OVER_TIME[aggregation].format(sel=window)
    else:
        template = _GROUPED.get(aggregation)
        if template is None:
            raise BadUserInput(
                f"aggregation {aggregation.name} with groupBy cannot be computed exactly "
                "from a Prometheus source; use it without groupBy, or write the PromQL "
                "with `promql`",
                field="aggregation",
            )
        for key in query.group_by:
            _check_label(key, "groupBy")
        expr = template.format(by=", ".join(query.group_by), sel=window)
    if query.step_ms is None:
        return PromRequest(expr, start, end - 1, None, end - 1 - start, start, end)
    first = start // step * step
    last = (end - 1) // step * step
    return PromRequest(expr, first + step - 1, last + step - 1, step, step - 1, first, last + step)


def _check_label(key: str, field: str) -> None:
    if not LABEL_NAME_RE.match(key):
        raise BadUserInput(
            f"{field}: {key!r} is not a Prometheus label name (letters, digits and '_', "
            "not starting with a digit)",
            field=field,
        )
