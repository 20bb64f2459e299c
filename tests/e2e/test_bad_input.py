"""Bad input of every kind gets a coded error and stores nothing wrong.

Each test checks the response (status, `extensions.code`, messages, indexes)
and then reads back what the store holds for the tenant.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from analytics_gateway import lineprotocol
from analytics_gateway.domain import PointBatch
from analytics_gateway.ingest import live_messages
from tests.conftest import GraphQLClient, gateway, make_settings

INGEST = """
mutation($points: [MetricPointInput!]!) {
  ingestMetrics(points: $points) { accepted rejected { index message } }
}
"""
BAD_NAME = (
    "invalid metric name {!r}: use letters, digits, '_', ':', '.', '-' "
    "(starting with a letter, '_' or ':'), at most 200 characters"
)
NOT_A_DURATION = (
    "{field}: {text!r} is not a duration; use a number and a unit "
    "(ms, s, m, h, d, w), e.g. '30s', '5m', '1h', '7d'"
)
TEN_MB = 10 * 1024 * 1024
DEFAULT_BODY_LIMIT = 5 * 1024 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def clean(response: httpx.Response) -> httpx.Response:
    """No response body may carry a stack trace or source paths."""
    assert "Traceback" not in response.text, response.text
    assert 'File "' not in response.text, response.text
    assert ".py" not in response.text, response.text
    return response


def auth(gql: GraphQLClient, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {gql.key}", **extra}


async def post_gql(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = clean(await gql.post(query, variables))
    assert response.status_code == 200, response.text
    return response.json()


async def stored_names(gql: GraphQLClient) -> list[str]:
    body = await post_gql(gql, "{ metricNames }")
    assert "errors" not in body, body
    names: list[str] = body["data"]["metricNames"]
    return names


async def stored_series(gql: GraphQLClient, name: str) -> list[tuple[dict[str, str], Any]]:
    """(labels, {"t": [...], "v": [...]}) of every stored series of `name`, by labels."""
    body = await post_gql(
        gql,
        'query($n: String!) { metrics(query: {name: $n, last: "1d"}) { labels data } }',
        {"n": name},
    )
    assert "errors" not in body, body
    series = [(s["labels"], s["data"]) for s in body["data"]["metrics"]]
    return sorted(series, key=lambda s: json.dumps(s[0], sort_keys=True))


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


# -- InfluxDB line protocol ------------------------------------------------


async def test_line_protocol_with_only_bad_lines_is_400_and_stores_nothing(
    gql: GraphQLClient,
) -> None:
    body = "\n".join(
        [
            "garbage",
            'disk value="full"',
            "cpu,host value=1",
            "cpu value=1 yesterday",
            "cpu value=1 2 3",
            "cpu value=",
        ]
    )
    response = clean(await gql.http.post("/write", content=body, headers=auth(gql)))
    assert response.status_code == 400
    result = response.json()
    expected = [
        {"index": 0, "message": "line 1: expected 'measurement[,tags] fields [timestamp]'"},
        {"index": 1, "message": "line 2: string fields cannot be stored as metrics"},
        {"index": 2, "message": "line 3: invalid tag 'host'"},
        {"index": 3, "message": "line 4: invalid timestamp 'yesterday'"},
        {
            "index": 4,
            "message": "line 5: too many space-separated sections (escape spaces with '\\ ')",
        },
        {"index": 5, "message": "line 6: empty field value"},
    ]
    assert result == {
        "code": "invalid",
        "message": "partial write: 6 line(s) rejected; "
        "line 1: expected 'measurement[,tags] fields [timestamp]'",
        "accepted": 0,
        "rejected": expected,
    }
    assert await stored_names(gql) == []


async def test_line_protocol_mixed_lines_store_the_good_ones_and_list_the_bad(
    gql: GraphQLClient,
) -> None:
    t = now_ms() - 60_000
    body = "\n".join(
        [
            f"cpu,host=a value=1.5 {t}",  # 0 good
            "# a comment is skipped but keeps its line number",  # 1
            "garbage",  # 2 bad syntax
            f"cpu,host=b value=2i {t + 1}",  # 3 good (integer field)
            "",  # 4 blank
            f"mem free=3,used=t {t + 2}",  # 5 good: two points
            f'disk value="full" {t}',  # 6 bad: string field
            f"net,1bad=x value=1 {t}",  # 7 parses, fails validation (label name)
            f"io read=1,write=NaN {t}",  # 8 one bad field: the whole line is refused
        ]
    )
    response = clean(await gql.http.post("/write?precision=ms", content=body, headers=auth(gql)))
    assert response.status_code == 400
    result = response.json()
    assert result["code"] == "invalid"
    assert result["accepted"] == 4
    assert result["rejected"] == [
        {"index": 2, "message": "line 3: expected 'measurement[,tags] fields [timestamp]'"},
        {"index": 6, "message": "line 7: string fields cannot be stored as metrics"},
        {"index": 7, "message": "line 8: invalid label name '1bad'"},
        {"index": 8, "message": "line 9: value must be finite (NaN and infinity are refused)"},
    ]
    assert result["message"].startswith("partial write: 4 line(s) rejected; line 3: ")

    assert await stored_names(gql) == ["cpu", "mem_free", "mem_used"]
    assert await stored_series(gql, "cpu") == [
        ({"host": "a"}, {"t": [t], "v": [1.5]}),
        ({"host": "b"}, {"t": [t + 1], "v": [2.0]}),
    ]
    assert await stored_series(gql, "mem_free") == [({}, {"t": [t + 2], "v": [3.0]})]
    assert await stored_series(gql, "mem_used") == [({}, {"t": [t + 2], "v": [1.0]})]


@pytest.mark.parametrize("path", ["/write", "/api/v2/write"])
async def test_unknown_precision_is_400_and_stores_nothing(gql: GraphQLClient, path: str) -> None:
    response = clean(
        await gql.http.post(f"{path}?precision=fortnight", content="cpu value=1", headers=auth(gql))
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "unknown precision 'fortnight'; use ns, us, ms, s (or n, u, m, h)",
                "extensions": {"code": "BAD_USER_INPUT", "field": "precision"},
            }
        ]
    }
    assert await stored_names(gql) == []


async def test_line_protocol_body_that_is_not_utf8_is_400(gql: GraphQLClient) -> None:
    response = clean(
        await gql.http.post("/write", content=b"cpu value=1 \xff\xfe", headers=auth(gql))
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "message": "line protocol body must be UTF-8",
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    assert await stored_names(gql) == []


# -- NaN and infinity --------------------------------------------------------


async def test_non_finite_line_protocol_values_are_rejected_by_line(gql: GraphQLClient) -> None:
    t = now_ms() - 1000
    lines = ["m value=NaN", "m value=inf", "m value=-Infinity", "m value=1e999", f"m value=7 {t}"]
    response = clean(
        await gql.http.post("/write?precision=ms", content="\n".join(lines), headers=auth(gql))
    )
    assert response.status_code == 400
    result = response.json()
    finite = "value must be finite (NaN and infinity are refused)"
    assert result["accepted"] == 1
    assert result["rejected"] == [
        {"index": i, "message": f"line {i + 1}: {finite}"} for i in range(4)
    ]
    assert await stored_names(gql) == ["m"]
    assert await stored_series(gql, "m") == [({}, {"t": [t], "v": [7.0]})]


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e999"], ids=["nan", "inf", "-inf", "1e999"]
)
async def test_rest_json_with_non_finite_literal_is_400_and_stores_nothing(
    gql: GraphQLClient, literal: str
) -> None:
    body = f'[{{"name": "ok", "value": 1}}, {{"name": "bad", "value": {literal}}}]'
    response = clean(
        await gql.http.post(
            "/analytics/metrics",
            content=body,
            headers=auth(gql, **{"content-type": "application/json"}),
        )
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("body is not valid JSON: ")
    assert await stored_names(gql) == []


async def test_rest_ndjson_with_nan_is_400_and_stores_nothing(gql: GraphQLClient) -> None:
    body = b'{"name": "ok", "value": 1}\n{"name": "bad", "value": NaN}\n'
    response = clean(
        await gql.http.post(
            "/analytics/metrics",
            content=body,
            headers=auth(gql, **{"content-type": "application/x-ndjson"}),
        )
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await stored_names(gql) == []


async def test_rest_json_mixed_batch_stores_valid_items_and_lists_invalid_by_index(
    gql: GraphQLClient,
) -> None:
    t = now_ms() - 120_000
    items: list[Any] = [
        {"name": "cpu", "value": 1, "labels": {"host": "a"}, "timestamp": iso(t)},
        {"name": "cpu", "value": "NaN"},
        {"name": "cpu", "value": True},
        "not an object",
        {"name": "cpu", "value": 2, "labels": {"host": {"name": "a"}}},
        {"name": "cpu", "value": 3, "timestamp": "yesterday"},
        {"name": "cpu", "value": 4, "labels": {"host": "b"}, "timestamp": t + 5},
        {"name": "cpu", "value": 5, "timestamp": t + 2 * 86_400_000},
    ]
    response = clean(await gql.http.post("/analytics/metrics", json=items, headers=auth(gql)))
    assert response.status_code == 422
    assert response.json() == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "message": "value must be a number"},
            {"index": 2, "message": "value must be a number"},
            {"index": 3, "message": BAD_NAME.format(None)},
            {"index": 4, "message": "label 'host' must be a string"},
            {
                "index": 5,
                "message": "timestamp must be epoch milliseconds or an ISO-8601 date-time",
            },
            {"index": 7, "message": "timestamp is more than 3600s in the future"},
        ],
    }
    assert await stored_names(gql) == ["cpu"]
    assert await stored_series(gql, "cpu") == [
        ({"host": "a"}, {"t": [t], "v": [1.0]}),
        ({"host": "b"}, {"t": [t + 5], "v": [4.0]}),
    ]


async def test_graphql_variables_with_infinity_are_rejected_by_index(gql: GraphQLClient) -> None:
    # JSON has no NaN or infinity: a string "NaN" is refused by the Float type
    body = (
        '{"query": ' + json.dumps(INGEST) + ', "variables": {"points": ['
        '{"name": "ok", "value": 1}, {"name": "str", "value": "NaN"}, '
        '{"name": "inf", "value": "Infinity"}]}}'
    )
    response = clean(
        await gql.http.post(
            "/graphql", content=body, headers=auth(gql, **{"content-type": "application/json"})
        )
    )
    assert response.status_code == 200
    result = response.json()
    assert result["data"] is None
    prefix = "Variable '$points' has invalid value at "
    assert [(e["message"], e["extensions"]["code"]) for e in result["errors"]] == [
        (prefix + "[1].value: Float cannot represent non numeric value: 'NaN'", "BAD_USER_INPUT"),
        (
            prefix + "[2].value: Float cannot represent non numeric value: 'Infinity'",
            "BAD_USER_INPUT",
        ),
    ]
    # the operation did not run: not even the valid point is stored
    assert await stored_names(gql) == []


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ('{"v": ' + "[" * 3000 + "]" * 3000 + "}", "depth limit exceeded"),
        ('{"v": ' + "9" * 4301 + "}", "number is infinity"),
        ('{"points": [{"name": "pos", "value": 1e999}]}', "number is infinity"),
    ],
    ids=["nested-3000", "digits-4301", "1e999"],
)
async def test_a_body_json_cannot_carry_is_400_with_a_code(
    gql: GraphQLClient, variables: str, says: str
) -> None:
    body = '{"query": ' + json.dumps(INGEST) + ', "variables": ' + variables + "}"
    response = clean(
        await gql.http.post(
            "/graphql", content=body, headers=auth(gql, **{"content-type": "application/json"})
        )
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"].startswith("the body is not valid JSON: " + says)
    assert response.headers["x-request-id"]
    assert await stored_names(gql) == []


async def test_graphql_variables_of_the_wrong_shape_are_bad_user_input(
    gql: GraphQLClient,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {},
            "Variable '$points' has invalid value: "
            "Expected a value of non-null type '[MetricPointInput!]!' to be provided.",
        ),
        (
            {"points": [{"name": "ok", "value": 1}, {"value": 1}]},
            "Variable '$points' has invalid value at [1]: Expected value of type "
            "'MetricPointInput' to include required field 'name', found: {'value': 1}.",
        ),
        (
            {"points": [{"name": "ok", "value": 1, "timestamp": "tomorrow"}]},
            "Variable '$points' has invalid value at [0].timestamp: ",
        ),
    ]
    for variables, message in cases:
        result = await post_gql(gql, INGEST, variables)
        assert result["data"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"].startswith(message), error
    assert await stored_names(gql) == []


# -- oversized bodies -----------------------------------------------------------


def oversized_body(path: str) -> tuple[bytes, str]:
    """Over 10 MB of *valid* points (under the batch limit), so only the size guard refuses."""
    label = "x" * 250
    count = TEN_MB // 240 + 1
    if path == "/write":
        return (f"big,host={label} value=1\n" * count).encode(), "text/plain"
    points = [{"name": "big", "value": 1, "labels": {"host": label}}] * count
    if path == "/analytics/metrics":
        return orjson.dumps(points), "application/json"
    return orjson.dumps({"query": INGEST, "variables": {"points": points}}), "application/json"


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/graphql", "/analytics/metrics", "/write"])
async def test_ten_megabyte_body_is_413_and_stores_nothing(
    gql: GraphQLClient, path: str, streamed: bool
) -> None:
    body, content_type = oversized_body(path)
    assert len(body) > TEN_MB

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024 * 1024):
            yield body[start : start + 1024 * 1024]

    response = clean(
        await gql.http.post(
            path,
            content=chunks() if streamed else body,
            headers=auth(gql, **{"content-type": content_type}),
        )
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "errors": [
            {
                "message": f"request body exceeds {DEFAULT_BODY_LIMIT} bytes",
                "extensions": {"code": "BAD_USER_INPUT", "limit": DEFAULT_BODY_LIMIT},
            }
        ]
    }
    assert await stored_names(gql) == []


# -- query shape -------------------------------------------------------------------


async def test_unknown_aggregation_in_graphql_fails_validation(gql: GraphQLClient) -> None:
    body = await post_gql(
        gql, '{ metrics(query: {name: "cpu", step: "1m", aggregation: MEDIAN}) { data } }'
    )
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"].startswith("Value 'MEDIAN' does not exist in 'Aggregation' enum.")


@pytest.mark.parametrize(
    "path", ["/analytics/metrics/aggregated", "/analytics/metrics/acme"], ids=["agg", "tenant"]
)
async def test_unknown_aggregation_in_rest_is_400_bad_user_input(
    gql: GraphQLClient, path: str
) -> None:
    response = clean(
        await gql.http.get(path, params={"name": "cpu", "aggregation": "median"}, headers=auth(gql))
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "unknown aggregation 'MEDIAN'; use one of "
                "AVG, SUM, MIN, MAX, COUNT, LAST, P50, P95, P99, RATE",
                "extensions": {"code": "BAD_USER_INPUT", "field": "aggregation"},
            }
        ]
    }


async def test_ten_thousand_aliases_are_too_complex(gql: GraphQLClient) -> None:
    query = "{ " + " ".join(f"a{i}: metricNames" for i in range(10_000)) + " }"
    body = await post_gql(gql, query)
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_aliases_over_the_alias_limit_are_too_complex(gql: GraphQLClient) -> None:
    # few enough tokens for the token limit: the alias limit (100) answers
    query = "{ " + " ".join(f"a{i}: metricNames" for i in range(101)) + " }"
    body = await post_gql(gql, query)
    assert body["data"] is None
    [error] = body["errors"]
    assert error == {
        "message": "101 aliases found. Allowed: 100",
        "extensions": {"code": "QUERY_TOO_COMPLEX"},
    }


def of_type(levels: int) -> str:
    selection = "name"
    for _ in range(levels):
        selection = f"ofType {{ {selection} }}"
    return selection


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { fields { type { " + of_type(46) + " } } } } }",
        '{ __type(name: "Query") { fields { type { ' + of_type(47) + " } } } }",
        "{ __schema { ...S } } fragment S on __Schema { types { ...T } } "
        "fragment T on __Type { " + of_type(48) + " }",
    ],
    ids=["schema", "type", "fragments"],
)
async def test_query_fifty_levels_deep_is_too_complex(gql: GraphQLClient, query: str) -> None:
    for _ in range(2):  # the second answer comes from the parse and validation caches
        body = await post_gql(gql, query)
        assert body["data"] is None
        assert codes(body) == ["QUERY_TOO_COMPLEX"]
        assert "exceeds maximum operation depth of 15" in body["errors"][0]["message"]


async def test_nested_introspection_lists_are_too_complex(gql: GraphQLClient) -> None:
    # shallow, but each `fields` level multiplies the response: refused by list depth
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = await post_gql(gql, query)
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["message"] == "Maximum introspection depth exceeded"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            '{ metrics(query: {name: "cpu", last: "1x"}) { data } }',
            "last",
            NOT_A_DURATION.format(field="last", text="1x"),
        ),
        (
            '{ metrics(query: {name: "cpu", last: "-5m"}) { data } }',
            "last",
            NOT_A_DURATION.format(field="last", text="-5m"),
        ),
        (
            '{ metrics(query: {name: "cpu", last: "1h", step: "0s"}) { data } }',
            "step",
            "step: duration must be positive",
        ),
        (
            '{ metrics(query: {name: "cpu", step: "fast"}) { data } }',
            "step",
            NOT_A_DURATION.format(field="step", text="fast"),
        ),
        (
            '{ eventCounts(type: "play", last: "forever", step: "1m") { data } }',
            "last",
            NOT_A_DURATION.format(field="last", text="forever"),
        ),
        (
            '{ eventCounts(type: "play", last: "1h", step: "1 minute") { data } }',
            "step",
            NOT_A_DURATION.format(field="step", text="1 minute"),
        ),
        (
            '{ events(filter: {type: "play", last: "soon"}) { nodes { id } } }',
            "last",
            NOT_A_DURATION.format(field="last", text="soon"),
        ),
    ],
    ids=[
        "last-unit",
        "last-negative",
        "step-zero",
        "step-word",
        "counts-last",
        "counts-step",
        "events-last",
    ],
)
async def test_bad_durations_in_graphql_are_bad_user_input(
    gql: GraphQLClient, query: str, field: str, message: str
) -> None:
    body = await post_gql(gql, query)
    assert list(body["data"].values()) == [None]  # the field fails, not the request
    [error] = body["errors"]
    assert error["message"] == message
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


@pytest.mark.parametrize(
    ("path", "params", "field", "message"),
    [
        (
            "/analytics/metrics/acme",
            {"name": "cpu", "last": "forever"},
            "last",
            NOT_A_DURATION.format(field="last", text="forever"),
        ),
        (
            "/analytics/metrics/aggregated",
            {"name": "cpu", "step": "0m"},
            "step",
            "step: duration must be positive",
        ),
        (
            "/analytics/metrics/aggregated",
            {"name": "cpu", "step": "abc"},
            "step",
            NOT_A_DURATION.format(field="step", text="abc"),
        ),
    ],
    ids=["last", "step-zero", "step-word"],
)
async def test_bad_durations_in_rest_are_400_bad_user_input(
    gql: GraphQLClient, path: str, params: dict[str, str], field: str, message: str
) -> None:
    response = clean(await gql.http.get(path, params=params, headers=auth(gql)))
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT", "field": field}}]
    }


# -- batches ---------------------------------------------------------------------------


async def test_mixed_ingest_metrics_batch_stores_valid_points_and_reports_the_rest(
    gql: GraphQLClient,
) -> None:
    t = now_ms() - 60_000
    points: list[dict[str, Any]] = [
        {"name": "cpu", "value": 1.0, "labels": {"host": "a"}, "timestamp": iso(t)},
        {"name": "9lives", "value": 1.0},
        {"name": "cpu", "value": 2.0, "labels": {"host": "b"}, "timestamp": iso(t + 1000)},
        {"name": "cpu", "value": 3.0, "labels": {f"l{i}": "v" for i in range(33)}},
        {"name": "cpu", "value": 4.0, "timestamp": iso(now_ms() + 2 * 86_400_000)},
        {"name": "cpu", "value": 5.0, "labels": {"host": {"name": "a"}}},
        {"name": "mem", "value": 0.0, "timestamp": iso(t)},
        {"name": "cpu", "value": 6.0, "labels": {"bad key": "v"}},
        {"name": "cpu", "value": 7.0, "labels": {"host": "x" * 257}},
    ]
    body = await post_gql(gql, INGEST, {"points": points})
    assert "errors" not in body, body
    assert body["data"]["ingestMetrics"] == {
        "accepted": 3,
        "rejected": [
            {"index": 1, "message": BAD_NAME.format("9lives")},
            {"index": 3, "message": "too many labels (33 > 32)"},
            {"index": 4, "message": "timestamp is more than 3600s in the future"},
            {"index": 5, "message": "label 'host' must be a string"},
            {"index": 7, "message": "invalid label name 'bad key'"},
            {"index": 8, "message": "label 'host' is longer than 256 characters"},
        ],
    }
    assert await stored_names(gql) == ["cpu", "mem"]
    assert await stored_series(gql, "cpu") == [
        ({"host": "a"}, {"t": [t], "v": [1.0]}),
        ({"host": "b"}, {"t": [t + 1000], "v": [2.0]}),
    ]
    assert await stored_series(gql, "mem") == [({}, {"t": [t], "v": [0.0]})]


async def test_batches_over_max_batch_size_are_refused_whole(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", limits={"max_batch_size": 3})
    over = "batch of 4 items exceeds the limit of 3; split it into smaller batches"
    async with gateway(settings) as gql:
        points = [{"name": f"m{i}", "value": float(i)} for i in range(4)]

        body = await post_gql(gql, INGEST, {"points": points})
        assert body["data"] is None
        [error] = body["errors"]
        assert error["message"] == over
        assert error["path"] == ["ingestMetrics"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "limit": 3}

        events = await post_gql(
            gql,
            "mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }",
            {"e": [{"type": "play"}] * 4},
        )
        assert events["data"] is None
        assert [(e["message"], e["extensions"]["code"]) for e in events["errors"]] == [
            (over, "BAD_USER_INPUT")
        ]

        rest = clean(await gql.http.post("/analytics/metrics", json=points, headers=auth(gql)))
        assert rest.status_code == 400
        assert rest.json()["errors"] == [
            {"message": over, "extensions": {"code": "BAD_USER_INPUT", "limit": 3}}
        ]

        lines = "\n".join(f"m{i} value={i}" for i in range(4))
        write = clean(await gql.http.post("/write", content=lines, headers=auth(gql)))
        assert write.status_code == 400
        assert write.json()["errors"][0]["message"] == over

        # two lines of two fields each are four points
        fields = "m a=1,b=2\nn a=1,b=2"
        write = clean(await gql.http.post("/write", content=fields, headers=auth(gql)))
        assert write.status_code == 400
        assert write.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "limit": 3}

        assert await stored_names(gql) == []
        count = await post_gql(
            gql, '{ events(filter: {type: "play", last: "1h"}) { nodes { id } } }'
        )
        assert count["data"]["events"]["nodes"] == []

        # the limit itself is allowed
        body = await post_gql(gql, INGEST, {"points": points[:3]})
        assert body["data"]["ingestMetrics"] == {"accepted": 3, "rejected": []}
        assert await stored_names(gql) == ["m0", "m1", "m2"]


async def test_bulk_line_protocol_refuses_bad_lines_alone_and_merges_tag_orders(
    gql: GraphQLClient, app: Starlette
) -> None:
    """A body big enough for the columnar parser: same answers as line by line, and
    one series per label set however its tags were ordered, live messages included."""
    stored: list[PointBatch] = []

    async def keep(batch: PointBatch) -> None:
        stored.append(batch)

    app.state.gateway.services.ingest.on_stored(keep)
    t = now_ms() - 600_000
    lines: list[str] = []
    expected: dict[str, dict[str, list[Any]]] = {"h0": {"t": [], "v": []}, "h1": {"t": [], "v": []}}
    bad = {
        100: ("cpu,1bad=x,host=h0 value=1 {t}", "invalid label name '1bad'"),
        200: ("cpu,host=h0,region=eu value=NaN {t}", "value must be finite"),
        300: ("cpu,host=h1,region=eu value=1 {future}", "timestamp is more than"),
    }
    for i in range(400):
        if i in bad:
            lines.append(bad[i][0].format(t=t + i, future=now_ms() + 86_400_000))
            continue
        host = f"h{i % 2}"
        # the same series, its tags in either order
        tags = f"host={host},region=eu" if i % 4 < 2 else f"region=eu,host={host}"
        lines.append(f"cpu,{tags} value={i / 4} {t + i}")
        expected[host]["t"].append(t + i)
        expected[host]["v"].append(i / 4)
    body = "\n".join(lines)
    assert lineprotocol._parse_columnar(body, lineprotocol.precision_divisor("ms")) is not None

    response = clean(await gql.http.post("/write?precision=ms", content=body, headers=auth(gql)))
    assert response.status_code == 400
    result = response.json()
    assert result["accepted"] == 397
    assert [r["index"] for r in result["rejected"]] == [100, 200, 300]
    for rejection, (index, (_, reason)) in zip(result["rejected"], bad.items(), strict=True):
        assert rejection["message"].startswith(f"line {index + 1}: {reason}"), rejection
    assert await stored_series(gql, "cpu") == [
        ({"host": "h0", "region": "eu"}, expected["h0"]),
        ({"host": "h1", "region": "eu"}, expected["h1"]),
    ]
    [batch] = stored
    assert len(batch.columns().series) == 2
    [(channel, message)] = live_messages(batch)
    assert channel.endswith(":cpu")
    assert orjson.loads(message) == {
        "name": "cpu",
        "series": [
            {"labels": {"host": "h0", "region": "eu"}, **expected["h0"]},
            {"labels": {"host": "h1", "region": "eu"}, **expected["h1"]},
        ],
    }


# -- inputs that once reached a 500 ------------------------------------------------------

NINES = "9" * 400


async def test_an_integer_field_past_int64_is_rejected_by_line_and_the_rest_kept(
    gql: GraphQLClient,
) -> None:
    t = now_ms() - 60_000
    body = f"good value=1 {t}\nbig value={NINES}i {t}\ngood value=2 {t + 1}"
    response = clean(await gql.http.post("/write?precision=ms", content=body, headers=auth(gql)))
    assert response.status_code == 400
    result = response.json()
    assert result["accepted"] == 2
    [rejected] = result["rejected"]
    assert rejected["index"] == 1
    assert "out of range for a 64-bit integer" in rejected["message"]
    assert [data["v"] for _, data in await stored_series(gql, "good")] == [[1.0, 2.0]]


@pytest.mark.parametrize("stamp", ["9223372036854775808", "9999999999999999999"])
async def test_a_millisecond_timestamp_past_int64_is_rejected_by_line(
    gql: GraphQLClient, stamp: str
) -> None:
    body = f"m value=1 {stamp}\nm value=2 {now_ms() - 1000}"
    response = clean(await gql.http.post("/write?precision=ms", content=body, headers=auth(gql)))
    assert response.status_code == 400
    result = response.json()
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [0]
    assert "out of range" in result["rejected"][0]["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ metrics(query: {name: "cpu", last: "1h", step: "0.5ms"}) { data } }', "step"),
        ('{ eventCounts(type: "play", last: "1h", step: "0.5ms") { data } }', "step"),
        (f'{{ metrics(query: {{name: "cpu", last: "{NINES}h"}}) {{ data }} }}', "last"),
        (f'{{ metrics(query: {{name: "cpu", last: "{"9" * 303}ms"}}) {{ data }} }}', "last"),
        (
            '{ metrics(query: {name: "cpu", last: "3650d", step: "1000000d", '
            "aggregation: AVG}) { data } }",
            "step",
        ),
    ],
    ids=["metrics-step", "counts-step", "last-infinite", "last-huge", "step-huge"],
)
async def test_durations_no_store_can_hold_are_bad_user_input(
    gql: GraphQLClient, query: str, field: str
) -> None:
    body = await post_gql(gql, query)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert len(error["message"]) < 200


@pytest.mark.parametrize(
    "params",
    [
        {"name": "cpu", "step": "0.0001s"},
        {"name": "cpu", "last": f"{NINES}h"},
        {"name": "cpu", "last": f"{'9' * 303}ms"},
    ],
    ids=["step-fine", "last-infinite", "last-huge"],
)
async def test_durations_no_store_can_hold_are_400_in_rest(
    gql: GraphQLClient, params: dict[str, str]
) -> None:
    response = clean(
        await gql.http.get("/analytics/metrics/aggregated", params=params, headers=auth(gql))
    )
    assert response.status_code == 400, response.text
    assert codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "condition",
    [
        'cpu{host=~"a{4294967296}"} > 1',
        'cpu{host="\\x"} > 1',
        'cpu{host="\\N{nope}"} > 1',
        'cpu{host="\\u12"} > 1',
    ],
)
async def test_odd_matchers_in_conditions_are_answered_not_crashed(
    gql: GraphQLClient, condition: str
) -> None:
    for query in (
        'mutation($c: String!) { createAlert(input: {name: "x", condition: $c, '
        'interval: "1m"}) { id } }',
        'query($c: String!) { simulateAlert(rule: {name: "x", condition: $c, '
        'interval: "1m"}, last: "30m") { firings { at } } }',
    ):
        body = await post_gql(gql, query, {"c": condition})
        for error in body.get("errors", []):
            assert error["extensions"]["code"] not in {"INTERNAL_SERVER_ERROR"}, error
    response = clean(
        await gql.http.post(
            "/analytics/alerts",
            json={"name": "y", "condition": condition, "interval": "1m"},
            headers=auth(gql),
        )
    )
    assert response.status_code in (201, 400), response.text


@pytest.mark.parametrize("pattern", ["a{4294967296}", "(a+)+", "a{1001}", "(?<=a)b", "\\"])
async def test_odd_regexes_in_silence_matchers_are_answered_not_crashed(
    gql: GraphQLClient, pattern: str
) -> None:
    body = await post_gql(
        gql,
        "mutation($s: SilenceInput!) { createSilence(input: $s) { id } }",
        {
            "s": {
                "matchers": [{"label": "host", "value": pattern, "operator": "REGEX"}],
                "duration": "1h",
                "comment": "odd",
            }
        },
    )
    for error in body.get("errors", []):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error


async def test_an_unexpected_error_is_a_coded_500_with_the_correlation_id(
    gql: GraphQLClient, app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    store = app.state.gateway.services.backends.metrics

    async def broken(*_: object) -> object:
        raise RuntimeError("boom in /srv/secret/module.py")

    store.query_many = broken
    store.series_count_many = broken
    store.read_if_light = broken
    response = clean(
        await gql.http.get(
            "/analytics/metrics/aggregated",
            params={"name": "cpu", "last": "1h", "step": "1m"},
            headers=auth(gql, **{"x-request-id": "req-42"}),
        )
    )
    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error (correlation id req-42)",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "correlationId": "req-42"},
            }
        ]
    }
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "boom in /srv/secret/module.py" in caplog.text  # for the operator, in the log
    # the gateway goes on answering
    assert (await gql.http.get("/healthz")).status_code == 200


async def test_an_authorization_header_without_its_scheme_says_so(gql: GraphQLClient) -> None:
    assert gql.key is not None
    response = clean(
        await gql.http.post(
            "/graphql", json={"query": "{ viewer }"}, headers={"Authorization": gql.key}
        )
    )
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "must read 'Bearer <key>'" in error["message"]


async def test_influxdb_v1_clients_may_send_the_key_as_a_basic_password(
    gql: GraphQLClient,
) -> None:
    assert gql.key is not None
    line = f"basic_auth value=1 {now_ms() - 1000}"
    for credentials in (f"telegraf:{gql.key}", f":{gql.key}"):
        encoded = base64.b64encode(credentials.encode()).decode()
        response = clean(
            await gql.http.post(
                "/write?precision=ms", content=line, headers={"Authorization": f"Basic {encoded}"}
            )
        )
        assert response.status_code == 204, response.text
    wrong = base64.b64encode(b"telegraf:agk_nope_nope").decode()
    response = await gql.http.post(
        "/write?precision=ms", content=line, headers={"Authorization": f"Basic {wrong}"}
    )
    assert response.status_code == 401
    response = await gql.http.post(
        "/write?precision=ms", content=line, headers={"Authorization": "Basic !!!"}
    )
    assert response.status_code == 401
    assert "not valid base64" in response.text
