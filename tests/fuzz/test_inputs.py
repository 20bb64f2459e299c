"""Property-based tests (Hypothesis): whatever a client sends, a coded 4xx or success.

The text parsers run in process, many examples each; line protocol and GraphQL
variables go to a real gateway process over HTTP, fewer examples, so the suite
stays within its time. Each property also says what must hold for the valid
part of an input: valid lines are stored, whatever surrounds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import string
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_gateway.alerting.expr import parse_condition
from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.dashboards.formula import parse as parse_formula
from analytics_gateway.durations import MAX_DURATION_MS, parse_duration_ms
from analytics_gateway.errors import GatewayError
from analytics_gateway.lineprotocol import parse_body
from tests.servers import GatewayProcess

# the same examples on every run (seeded by the test's name), so CI is repeatable;
# ANALYTICS_FUZZ=explore draws fresh ones, ten times as many, to look for new failures
EXPLORE = os.environ.get("ANALYTICS_FUZZ") == "explore"
SCALE = 10 if EXPLORE else 1
IN_PROCESS = settings(
    max_examples=400 * SCALE, deadline=None, derandomize=not EXPLORE, database=None
)
OVER_HTTP = settings(
    max_examples=60 * SCALE,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
CODES = {"BAD_USER_INPUT", "BAD_REQUEST", "QUERY_TOO_COMPLEX", "RATE_LIMITED", "QUOTA_EXCEEDED"}

# text that looks like what users type, and odd characters besides
ODD = ["\uff11", "\u00e9", "\x00", "\u2028", "\ud7ff"]
near_text = st.text(
    alphabet=st.sampled_from(
        [*string.ascii_letters, *string.digits, *" ,=._-+:\"'\\{}()[]~!<>*/\t", *ODD]
    ),
    max_size=60,
)


def expect_user_error(parse: Any, text: str) -> None:
    """`parse(text)` answers, or refuses with one of the gateway's coded errors
    (which carry a code by construction); anything else fails the test."""
    with contextlib.suppress(GatewayError):
        parse(text)


@IN_PROCESS
@given(near_text | st.text(max_size=40))
def test_durations_are_in_range_or_refused(text: str) -> None:
    outcome: int | str
    try:
        outcome = parse_duration_ms(text)
    except GatewayError as exc:
        outcome = exc.code
    assert outcome == "BAD_USER_INPUT" or 1 <= int(outcome) <= MAX_DURATION_MS


@IN_PROCESS
@given(near_text)
def test_conditions_parse_or_are_refused(text: str) -> None:
    expect_user_error(parse_condition, text)


@IN_PROCESS
@given(st.from_regex(r"[a-z]{1,8}\{[a-z]{1,4}(=~|!~|=|!=)\"[^\"\n]{0,20}\"\} > [0-9]{1,3}"))
def test_label_matchers_in_conditions_parse_or_are_refused(text: str) -> None:
    expect_user_error(parse_condition, text)


@IN_PROCESS
@given(near_text)
def test_formulas_parse_or_are_refused(text: str) -> None:
    expect_user_error(parse_formula, text)


# -- line protocol ------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: f"{i}i"),
    st.integers(0, 2**64 - 1).map(lambda i: f"{i}u"),
    st.sampled_from(["t", "F", "true", "FALSE"]),
)


@st.composite
def valid_lines(draw: st.DrawFn, now_ms: int) -> str:
    tags = draw(st.dictionaries(names, names, max_size=3))
    key = draw(names) + "".join(f",{k}={v}" for k, v in sorted(tags.items()))
    stamp = now_ms - draw(st.integers(0, 3_600_000))
    return f"{key} value={draw(numbers)} {stamp}"


junk_lines = st.one_of(
    near_text.filter(lambda t: "\n" not in t and "\r" not in t),
    st.from_regex(
        r"[a-z]{1,5} value=[-+0-9._eEinfaNu\uff11]{1,30}( [-+0-9_]{1,25})?", fullmatch=True
    ),
)


@IN_PROCESS
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=30), st.data())
def test_line_protocol_keeps_every_valid_line_whatever_surrounds_it(
    layout: list[tuple[bool, int]], data: st.DataObject
) -> None:
    now = 1_800_000_000_000
    lines = [data.draw(valid_lines(now) if valid else junk_lines) for valid, _ in layout]
    parsed, rejected = parse_body("\n".join(lines), "ms")
    rejected_lines = {r.index for r in rejected}
    kept_lines = set(parsed.lines)
    for index, (valid, _) in enumerate(layout):
        if valid:
            assert index in kept_lines, (lines[index], rejected)
            assert index not in rejected_lines
    assert all(0 <= i < max(len(lines), 1) for i in rejected_lines | kept_lines)


# -- over HTTP, against a real gateway ------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("fuzz")
    store = SQLiteConfigStore(data / "config.sqlite3")

    async def key() -> str:
        try:
            _, text = await create_key(store, "fuzz", parse_scopes("ingest,read,write"))
        finally:
            await store.close()
        return text

    secret = asyncio.run(key())
    process = GatewayProcess(
        data,
        {
            "ANALYTICS_JSON_LOGS": "false",
            "ANALYTICS_QUOTAS": "requests_per_second=100000,request_burst=100000,"
            "points_per_second=1e9,point_burst=1e6",
        },
    )
    process.start()
    try:
        yield process.url, secret
    finally:
        process.stop()


def coded(response: httpx.Response) -> None:
    """A 4xx with a JSON body whose errors all carry a code (never a bare 500)."""
    assert response.status_code < 500, response.text
    body = response.json()
    for error in body.get("errors", []):
        assert error["extensions"]["code"] in CODES, error


@OVER_HTTP
@given(st.lists(st.tuples(st.booleans(), st.integers()), min_size=1, max_size=12), st.data())
def test_write_stores_the_valid_lines_and_refuses_the_rest_with_a_code(
    live: tuple[str, str], layout: list[tuple[bool, int]], data: st.DataObject
) -> None:
    url, key = live
    now = int(time.time() * 1000)
    lines = [data.draw(valid_lines(now) if valid else junk_lines) for valid, _ in layout]
    response = httpx.post(
        f"{url}/write?precision=ms",
        content="\n".join(lines).encode("utf-8", "surrogatepass"),
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code in (204, 400), response.text
    if response.status_code == 400:
        body = response.json()
        assert body["code"] == "invalid"
        refused = {r["index"] for r in body["rejected"]}
        assert not refused & {i for i, (valid, _) in enumerate(layout) if valid}
    assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | near_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(near_text, children, max_size=4)
    ),
    max_leaves=12,
)
points = st.lists(
    st.fixed_dictionaries(
        {"name": near_text | names, "value": json_values},
        optional={"labels": json_values, "timestamp": json_values},
    ),
    max_size=5,
)

INGEST = "mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }"
READ = "query($q: MetricQuery!) { metrics(query: $q) { name data } }"


@OVER_HTTP
@given(points | json_values)
def test_graphql_variables_of_any_shape_get_a_coded_answer(
    live: tuple[str, str], variables: Any
) -> None:
    url, key = live
    for query, name in ((INGEST, "p"), (READ, "q")):
        # the standard encoder: it writes integers of any size, as a client may
        body = json.dumps({"query": query, "variables": {name: variables}})
        response = httpx.post(
            f"{url}/graphql",
            content=body,
            headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
            timeout=60,
        )
        coded(response)
        if response.status_code == 200 and "errors" not in response.json():
            assert response.json()["data"], response.text
