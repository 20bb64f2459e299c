"""Printing a parsed query gives PromQL that parses back to the same tree."""

from __future__ import annotations

import promql_parser as pp
import pytest

from analytics_gateway.backends.promql_print import to_text

CORPUS = [
    "up",
    '{__name__=~"up|down",job!="a"}',
    'http_requests_total{path=~"/a\\\\.b",code!~"5.."}[5m]',
    "rate(up[5m] offset 1m)",
    "rate(up[5m] @ 1700000000.123 offset -1h)",
    "up @ start()",
    "up @ end() offset 2d",
    "max_over_time(rate(up[1m])[1h:5m])",
    "max_over_time((up + 1)[30m:] offset 5m)",
    "sum by (job, instance) (up)",
    "sum without (instance) (up)",
    "sum by () (up)",
    "topk(3, up)",
    'count_values("value", up)',
    "quantile(0.9, rate(x[5m]))",
    "a + b * c",
    "(a + b) * c",
    "a / on(job) group_left(instance, pod) b",
    "a / ignoring(x) group_right() b",
    "a * on() b",
    "a > bool 1",
    "a == bool on(x) b",
    "a and on(job) b or c unless ignoring(x) d",
    "a ^ b ^ c",
    "a atan2 b",
    "-up",
    "- -up",
    "-(up + 1)",
    "-1 + 2.5e-3 - 0x1F",
    "NaN + Inf - -Inf",
    'label_replace(up, "dst", "$1", "src", "(.*)\\\\d+")',
    'label_join(up, "x", "\\",\\n", "a", "b")',
    "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))",
    "absent_over_time(nothing[1h])",
    "vector(1) + scalar(up) + time()",
    "round(up, 0.5)",
    "sort_desc(sum(up))",
    "((up))",
]


@pytest.mark.parametrize("query", CORPUS)
def test_printed_query_parses_back_to_the_same_tree(query: str) -> None:
    tree = pp.parse(query)
    printed = to_text(tree)
    assert str(pp.parse(printed)) == str(tree), printed
    assert to_text(pp.parse(printed)) == printed  # and printing is stable


def test_strings_are_escaped_so_quotes_cannot_break_out() -> None:
    tree = pp.parse('up{a="x\\"}) or {b=\\"y"}')
    printed = to_text(tree)
    reparsed = pp.parse(printed)
    assert isinstance(reparsed, pp.VectorSelector)
    assert [(m.name, m.value) for m in reparsed.matchers.matchers] == [("a", 'x"}) or {b="y')]


def test_selector_matchers_come_from_the_caller() -> None:
    printed = to_text(pp.parse("rate(up[5m]) + down"), lambda node: [("t", "=", node.name or "")])
    assert printed == 'rate(up{t="up"}[5m]) + down{t="down"}'
