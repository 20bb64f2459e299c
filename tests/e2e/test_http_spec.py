"""The MUST rules of GraphQL over HTTP, authentication, masking and GraphiQL.

https://graphql.github.io/graphql-over-http/draft/ : `application/json` keeps
the legacy "200 with errors" behaviour; `application/graphql-response+json`
answers requests that could not be executed with 4xx.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, get_introspection_query

from analytics_gateway.observability import correlation_id
from analytics_gateway.schema.extensions import classify
from tests.conftest import GraphQLClient, MakeKey, gateway, make_settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
INGEST_ONE = 'mutation { ingestMetrics(points: [{name: "sneaky", value: 1}]) { accepted } }'

# a request that reads no metric costs nothing, and says so (`query_cost`)
NO_COST = {"cost": {"points": 0, "limit": 2_000_000}}


def clean(response: httpx.Response) -> httpx.Response:
    assert "Traceback" not in response.text, response.text
    assert 'File "' not in response.text, response.text
    return response


def auth(gql: GraphQLClient, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {gql.key}", **extra}


async def stored_names(gql: GraphQLClient) -> list[str]:
    body = await gql.execute("{ metricNames }")
    assert "errors" not in body, body
    names: list[str] = body["data"]["metricNames"]
    return names


async def post(
    gql: GraphQLClient, query: str, accept: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return clean(await gql.http.post("/graphql", json=payload, headers=auth(gql, accept=accept)))


# -- requests --------------------------------------------------------------------


async def test_post_with_application_json_executes(gql: GraphQLClient) -> None:
    written = await gql.execute(INGEST_ONE)
    assert written == {"data": {"ingestMetrics": {"accepted": 1}}, "extensions": NO_COST}
    response = clean(
        await gql.http.post(
            "/graphql",
            content=b'{"query": "{ metricNames }"}',
            headers=auth(gql, **{"content-type": "application/json"}),
        )
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"metricNames": ["sneaky"]}, "extensions": NO_COST}


async def test_get_with_query_parameter_executes_queries(gql: GraphQLClient) -> None:
    await gql.execute(INGEST_ONE)
    response = clean(
        await gql.http.get(
            "/graphql",
            params={
                "query": "query Names($p: String) { metricNames(prefix: $p) } "
                "query Other { metricNames }",
                "variables": '{"p": "sn"}',
                "operationName": "Names",
            },
            headers=auth(gql),
        )
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"metricNames": ["sneaky"]}, "extensions": NO_COST}
    other = clean(
        await gql.http.get(
            "/graphql",
            params={"query": '{ metricNames(prefix: "zz") }'},
            headers=auth(gql, accept=GRAPHQL_RESPONSE),
        )
    )
    assert other.status_code == 200
    assert other.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert other.json() == {"data": {"metricNames": []}, "extensions": NO_COST}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_mutation_over_get_is_405_and_not_executed(gql: GraphQLClient, accept: str) -> None:
    response = clean(
        await gql.http.get(
            "/graphql", params={"query": INGEST_ONE}, headers=auth(gql, accept=accept)
        )
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "errors": [
            {
                "message": "mutations are not allowed when using GET",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }
    assert await stored_names(gql) == []


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"query": "mutation { ingestMetrics(points: [{name: \\"sneaky\\", value: 1}]) {',
        b"",
    ],
    ids=["garbage", "truncated-mutation", "empty"],
)
async def test_body_that_is_not_json_is_400(gql: GraphQLClient, accept: str, body: bytes) -> None:
    response = clean(
        await gql.http.post(
            "/graphql",
            content=body,
            headers=auth(gql, accept=accept, **{"content-type": "application/json"}),
        )
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith("the body is not valid JSON: ")  # then where and why
    assert await stored_names(gql) == []


async def test_parse_error_with_graphql_response_json_is_400(gql: GraphQLClient) -> None:
    response = await post(gql, "{ metricNames", GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    [error] = response.json()["errors"]
    assert error["message"] == "Syntax Error: Expected Name, found <EOF>."
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_validation_error_with_graphql_response_json_is_400(gql: GraphQLClient) -> None:
    response = await post(gql, "{ metricNamez }", GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    [error] = response.json()["errors"]
    assert error["message"].startswith("Cannot query field 'metricNamez' on type 'Query'.")
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_invalid_variables_with_graphql_response_json_are_400(gql: GraphQLClient) -> None:
    query = "query($p: String) { metricNames(prefix: $p) }"
    response = await post(gql, query, GRAPHQL_RESPONSE, {"p": {"not": "a string"}})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    [error] = response.json()["errors"]
    assert error["message"].startswith("Variable '$p' has invalid value: ")
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ metricNamez }", "GRAPHQL_VALIDATION_FAILED"), ("{ metricNames", "GRAPHQL_PARSE_FAILED")],
    ids=["validation", "parse"],
)
@pytest.mark.parametrize("accept", ["application/json", "*/*"])
async def test_errors_with_application_json_are_200_legacy(
    gql: GraphQLClient, accept: str, query: str, code: str
) -> None:
    response = await post(gql, query, accept)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


async def test_success_with_graphql_response_json_is_200_of_that_type(gql: GraphQLClient) -> None:
    await gql.execute(INGEST_ONE)
    for accept in (GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, application/json;q=0.9"):
        response = await post(gql, "{ metricNames }", accept)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert response.json() == {"data": {"metricNames": ["sneaky"]}, "extensions": NO_COST}


async def test_field_error_with_graphql_response_json_is_a_200_partial_response(
    gql: GraphQLClient,
) -> None:
    # the operation was executed; a field error is 2xx, and the other fields answer
    response = await post(
        gql, '{ metricNames metrics(query: {name: "cpu", last: "1x"}) { data } }', GRAPHQL_RESPONSE
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert body["data"] == {"metricNames": [], "metrics": None}
    [error] = body["errors"]
    assert error["path"] == ["metrics"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}


# -- authentication and authorisation ---------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing credentials: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must read 'Bearer <key>' (or send 'X-API-Key: <key>')",
        ),
        ({"Authorization": "Bearer not-a-key"}, "invalid API key"),
        ({"X-API-Key": "agk_0000_forged"}, "invalid or revoked API key"),
    ],
    ids=["none", "basic", "malformed", "unknown"],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_missing_or_bad_credentials_are_401_unauthenticated(
    gql: GraphQLClient, method: str, headers: dict[str, str], message: str
) -> None:
    if method == "POST":
        response = await gql.http.post("/graphql", json={"query": INGEST_ONE}, headers=headers)
    else:
        response = await gql.http.get(
            "/graphql", params={"query": "{ metricNames }"}, headers=headers
        )
    clean(response)
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert await stored_names(gql) == []


async def test_read_only_key_cannot_ingest(
    gql: GraphQLClient, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    reader = GraphQLClient(client, await make_key("acme", "read"))
    response = clean(await reader.post(INGEST_ONE))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "this API key lacks the 'ingest' scope"
    assert error["path"] == ["ingestMetrics"]
    assert error["extensions"] == {"code": "FORBIDDEN", "scope": "ingest"}
    # reading is what the key is for
    assert await reader.execute("{ metricNames }") == {
        "data": {"metricNames": []},
        "extensions": NO_COST,
    }
    assert await stored_names(gql) == []


# -- masking ------------------------------------------------------------------------


def test_unexpected_errors_are_masked_with_the_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No request reaches an unexpected error without mocks, so classify one directly:
    # an exception that is neither a GatewayError nor input coercion.
    original = RuntimeError("password=hunter2 at /srv/app/secret.py")
    error = GraphQLError("password=hunter2", path=["metrics"], original_error=original)
    token = correlation_id.set("req-42")
    try:
        with caplog.at_level(logging.ERROR, logger="analytics_gateway.errors"):
            masked = classify(error)
    finally:
        correlation_id.reset(token)
    assert masked.message == "Internal server error (correlation id req-42)"
    assert masked.path == ["metrics"]
    assert masked.extensions == {"code": "INTERNAL_SERVER_ERROR", "correlationId": "req-42"}
    assert "hunter2" not in str(masked.formatted)
    # the server log keeps what the client does not see
    [record] = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is original


# -- GraphiQL and introspection ----------------------------------------------------


async def test_graphiql_is_served_to_browsers_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    response = clean(await client.get("/graphql", headers={"accept": "text/html"}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_off_is_404(tmp_path: Path) -> None:
    async with gateway(make_settings(tmp_path / "data", graphiql=False)) as gql:
        response = clean(await gql.http.get("/graphql", headers={"accept": "text/html"}))
        assert response.status_code == 404
        assert "graphiql" not in response.text.lower()
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        # the endpoint itself still works
        assert await gql.execute("{ metricNames }") == {
            "data": {"metricNames": []},
            "extensions": NO_COST,
        }


async def test_standard_introspection_query_works_within_the_limits(gql: GraphQLClient) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = await gql.execute(query)
    assert "errors" not in body, body
    schema = body["data"]["__schema"]
    assert schema["queryType"] == {"name": "Query", "kind": "OBJECT"}
    assert "MetricQuery" in {t["name"] for t in schema["types"]}


SUGGESTING = [
    ("{ metricNamez }", "Cannot query field 'metricNamez' on type 'Query'."),
    (
        '{ metrics(query: {name: "a", aggregation: MEDIAN}) { data } }',
        "Value 'MEDIAN' does not exist in 'Aggregation' enum.",
    ),
    (
        '{ metrics(query: {name: "a", lst: "1h"}) { data } }',
        "Expected value of type 'MetricQuery' not to include unknown field 'lst'.",
    ),
    (
        '{ metricNames(prefx: "a") }',
        "Unknown argument 'prefx' on field 'Query.metricNames'.",
    ),
    (
        "query($q: MetricQuer!) { metrics(query: $q) { data } }",
        "Unknown type 'MetricQuer'.",
    ),
]
SUGGESTING_VARIABLES: list[tuple[str, dict[str, Any], str]] = [
    (
        'query($a: Aggregation) { metrics(query: {name: "a", aggregation: $a}) { data } }',
        {"a": "MEDIAN"},
        "Variable '$a' has invalid value: Value 'MEDIAN' does not exist in 'Aggregation' enum.",
    ),
    (
        "query($q: MetricQuery!) { metrics(query: $q) { data } }",
        {"q": {"name": "a", "lst": "1h"}},
        "Variable '$q' has invalid value: Expected value of type 'MetricQuery' "
        "not to include unknown field 'lst'",
    ),
]


async def test_with_introspection_on_errors_suggest_names(gql: GraphQLClient) -> None:
    """The control for the next test: these errors do carry suggestions by default."""
    for query, start in SUGGESTING:
        [error] = (await gql.execute(query))["errors"]
        assert error["message"].startswith(start), error
        assert "Did you mean" in error["message"], error
    for query, variables, start in SUGGESTING_VARIABLES:
        [error] = (await gql.execute(query, variables))["errors"]
        assert error["message"].startswith(start), error
        assert "Did you mean" in error["message"], error


async def test_with_introspection_off_introspection_and_suggestions_are_refused(
    tmp_path: Path,
) -> None:
    async with gateway(make_settings(tmp_path / "data", introspection=False)) as gql:
        for query, field in [
            ("{ __schema { queryType { name } } }", "__schema"),
            ('{ __type(name: "Query") { name } }', "__type"),
        ]:
            body = await gql.execute(query)
            assert body["data"] is None
            messages = [e["message"] for e in body["errors"]]
            assert messages[0] == (
                "GraphQL introspection has been disabled, but the requested query "
                f"contained the field '{field}'."
            )
            assert {e["extensions"]["code"] for e in body["errors"]} == {
                "GRAPHQL_VALIDATION_FAILED"
            }
        # __typename is not introspection of the schema
        assert await gql.execute("{ __typename }") == {
            "data": {"__typename": "Query"},
            "extensions": NO_COST,
        }

        for query, start in SUGGESTING:
            body = await gql.execute(query)
            [error] = body["errors"]
            assert error["message"].startswith(start), error
            assert "Did you mean" not in error["message"], error
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        for query, variables, start in SUGGESTING_VARIABLES:
            [error] = (await gql.execute(query, variables))["errors"]
            assert error["message"].startswith(start), error
            assert "Did you mean" not in error["message"], error
            assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_subscription_over_plain_http_is_a_clear_400(gql: GraphQLClient, method: str) -> None:
    query = 'subscription { metricPoints(name: "cpu") { value } }'
    if method == "GET":
        response = await gql.http.get("/graphql", params={"query": query}, headers=auth(gql))
    else:
        response = await gql.http.post("/graphql", json={"query": query}, headers=auth(gql))
    clean(response)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "subscriptions need a WebSocket" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


async def test_a_reason_repeated_in_a_document_is_told_once(gql: GraphQLClient) -> None:
    for query, message in (
        ("{ viewer " + "@a " * 10 + "}", "Unknown directive '@a'."),
        (
            "{ viewer " + "@include(if: true) " * 5 + "}",
            "The directive '@include' can only be used once at this location.",
        ),
    ):
        body = await gql.execute(query)
        assert [e["message"] for e in body["errors"]] == [message]
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # different reasons are all told
    body = await gql.execute("{ viewer @a @b }")
    assert len(body["errors"]) == 2
