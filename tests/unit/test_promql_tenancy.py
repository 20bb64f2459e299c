"""Every selector of a user's PromQL is scoped to the caller's tenant, or refused."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import promql_parser as pp
import pytest

from analytics_gateway.backends.promql_tenancy import MAX_QUERY_LENGTH, enforce_tenant
from analytics_gateway.errors import BadUserInput

Matcher = tuple[str, str, str]
OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"))


def _op(op: Any) -> str:
    return next((text for known, text in OPS if known == op), "!~")


def selectors(text: str) -> list[tuple[str | None, list[Matcher]]]:
    """(name, sorted matchers) of every vector selector, parsed from the query sent."""
    found: list[tuple[str | None, list[Matcher]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.VectorSelector):
            assert not node.matchers.or_matchers
            matchers = sorted((m.name, _op(m.op), m.value) for m in node.matchers.matchers)
            found.append((node.name, matchers))

    pp.walk(pp.parse(text), pre_visit=visit)
    return found


def assert_scoped(text: str, tenant: str = "acme", label: str = "tenant") -> None:
    found = selectors(text)
    assert found, text
    for _, matchers in found:
        assert [m for m in matchers if m[0] == label] == [(label, "=", tenant)], text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("up", [("up", [("tenant", "=", "acme")])]),
        ('{__name__=~".+"}', [(None, [("__name__", "=~", ".+"), ("tenant", "=", "acme")])]),
        ('up{tenant="acme"}', [("up", [("tenant", "=", "acme")])]),
        (
            'http_requests_total{job!="x",path=~"/a.*",code!~"5.."}',
            [
                (
                    "http_requests_total",
                    [
                        ("code", "!~", "5.."),
                        ("job", "!=", "x"),
                        ("path", "=~", "/a.*"),
                        ("tenant", "=", "acme"),
                    ],
                )
            ],
        ),
        (
            'up or on(job) {job="b"}',
            [
                ("up", [("tenant", "=", "acme")]),
                (None, [("job", "=", "b"), ("tenant", "=", "acme")]),
            ],
        ),
    ],
)
def test_selectors_get_exactly_the_tenant_matcher(
    query: str, expected: list[tuple[str | None, list[Matcher]]]
) -> None:
    assert selectors(enforce_tenant(query, "tenant", "acme")) == expected


@pytest.mark.parametrize(
    "query",
    [
        "sum by (job) (rate(http_requests_total[5m]))",
        "max_over_time(rate(up[1m])[10m:30s])",  # subquery around a range selector
        "max_over_time(deriv(up[1m])[10m:30s] offset 1h)",
        "topk(scalar(count(up)), up)",  # a selector in the aggregation's parameter
        'quantile(scalar(sum(a)), b) + count_values("v", c)',
        "up / on(job) group_left(instance) node_info",
        "-(up) + absent(nothing) * vector(1) unless down",
        'label_replace(up, "tenant", "other", "", "")',  # relabels the output only
        'label_join(up, "tenant", ",", "job", "instance")',
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        "up @ start() + up @ end() + up @ 1700000000 + up offset -5m + up offset 1h30m",
        "rate(up[1s500ms] @ 100 offset 1m)",
        "sort_desc(sum without (instance) (up))",
        'up # a comment {tenant="other"}\n',
    ],
)
def test_every_selector_anywhere_is_scoped(query: str) -> None:
    sent = enforce_tenant(query, "tenant", "acme")
    assert_scoped(sent)
    before = selectors(query)
    after = selectors(sent)
    assert len(after) == len(before)
    for (name_a, matchers_a), (name_b, matchers_b) in zip(before, after, strict=True):
        assert name_b == name_a
        assert matchers_b == sorted([*matchers_a, ("tenant", "=", "acme")])


def test_modifiers_survive_the_rewrite() -> None:
    sent = pp.parse(enforce_tenant("rate(up[5m] offset -1m @ 100)", "tenant", "acme"))
    assert isinstance(sent, pp.Call)
    matrix = sent.args[0]
    assert isinstance(matrix, pp.MatrixSelector)
    assert matrix.range == timedelta(minutes=5)
    assert matrix.vector_selector.offset == timedelta(minutes=-1)
    assert matrix.vector_selector.at is not None
    assert matrix.vector_selector.at.at is not None
    assert matrix.vector_selector.at.at.timestamp() == 100
    sub = pp.parse(enforce_tenant("max_over_time(up[10m:1m] offset 2m)", "tenant", "acme"))
    assert isinstance(sub, pp.Call)
    assert isinstance(sub.args[0], pp.SubqueryExpr)
    assert (sub.args[0].range, sub.args[0].step, sub.args[0].offset) == (
        timedelta(minutes=10),
        timedelta(minutes=1),
        timedelta(minutes=2),
    )


@pytest.mark.parametrize(
    "query",
    [
        'up{tenant="other"}',
        'up{tenant=~".*"}',
        'up{tenant=~"acme|other"}',
        'up{tenant=~"acme"}',  # a regex, even one matching only the caller
        'up{tenant!="acme"}',
        'up{tenant!~"acme"}',
        '{tenant=~".+"}',
        '{__name__=~".+",tenant!=""}',
        'up{tenant="acme",tenant="other"}',
        'sum(rate(up{tenant="other"}[5m]))',
        'max_over_time(up{tenant="other"}[10m:1m])',
        'up or up{tenant="other"}',
        'up and on() count(up{tenant=~".+"}) > 0',
        'topk(scalar(up{tenant="other"}), up)',
        'label_replace(up{tenant="other"}, "tenant", "acme", "", "")',
        'absent(up{tenant="other"})',
        '{job="a" or tenant="other"}',  # `or` inside braces
        '{__name__="up" or __name__="down"}',
        "info(up)",  # reads target_info series that no selector names
    ],
)
def test_attempts_to_reach_another_tenant_are_refused(query: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        enforce_tenant(query, "tenant", "acme")
    assert caught.value.extensions["field"] == "query"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "no expression"),
        ("up{", "invalid PromQL"),
        ("rate(up)", "expected type matrix"),
        ("up" * MAX_QUERY_LENGTH, "longer than"),
    ],
)
def test_invalid_promql_is_bad_user_input(query: str, message: str) -> None:
    with pytest.raises(BadUserInput, match=message):
        enforce_tenant(query, "tenant", "acme")


@pytest.mark.parametrize(
    "tenant", ['ac"me', "back\\slash", "new\nline", "ünïcødé", "}{", '"}or{tenant=~".+'], ids=str
)
def test_any_tenant_value_is_quoted_exactly(tenant: str) -> None:
    sent = enforce_tenant('up{job="x\\"y"} or down', "tenant", tenant)
    assert_scoped(sent, tenant)
    assert selectors(sent)[0][1][0] == ("job", "=", 'x"y')


def test_another_tenant_label_name_is_honoured() -> None:
    sent = enforce_tenant('up{tenant="x"}', "org_id", "acme")
    assert selectors(sent) == [("up", [("org_id", "=", "acme"), ("tenant", "=", "x")])]
    with pytest.raises(BadUserInput):
        enforce_tenant('up{org_id="other"}', "org_id", "acme")


def test_an_invalid_tenant_label_name_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="label name"):
        enforce_tenant("up", "tenant-id", "acme")


def test_literals_need_no_scope() -> None:
    assert enforce_tenant("1 + 2", "tenant", "acme") == "1 + 2"
    assert selectors(enforce_tenant("time() - 1", "tenant", "acme")) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * 8000 + "up" + ")" * 8000, "nested deeper"),
        ("sum(" * 3000 + "up" + ")" * 3000, "nested deeper"),
        (" + ".join(["up"] * 3000), "more than 100 operators"),
        ("-" * 16_000 + "up", "more than 100 operators"),
        ('"\\' * 8000, "invalid PromQL"),
    ],
    ids=["parens", "calls", "chain", "unary", "open-string"],
)
def test_queries_too_costly_to_parse_are_refused_at_once(query: str, message: str) -> None:
    began = time.perf_counter()
    with pytest.raises(BadUserInput, match=message):
        enforce_tenant(query, "tenant", "acme")
    assert time.perf_counter() - began < 0.1  # unchecked, the parser took seconds


def test_what_looks_like_operators_inside_strings_and_braces_is_not_counted() -> None:
    padding = '"' + " + ".join(["x"] * 200) + '"'
    sent = enforce_tenant(
        f'label_replace(up{{a=~"{"-" * 200}"}}, "d", {padding}, "", "")', "tenant", "acme"
    )
    assert_scoped(sent)
