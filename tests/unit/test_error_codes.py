"""Error codes come from where errors are raised and from their structure, never their text."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLFormattedError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    Source,
    parse,
)
from prometheus_client import CollectorRegistry

from analytics_gateway.config import Limits, Settings
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.schema import build_schema
from analytics_gateway.schema.extensions import classify

# the texts of the limits' errors, which once decided the code
LIMIT_TEXTS = [
    "'anonymous' exceeds maximum operation depth of 15",
    "101 aliases found. Allowed: 100",
    "Syntax Error: Document contains more than 5000 tokens. Parsing aborted.",
    "Maximum introspection depth exceeded",
]


def code_of(error: GraphQLError) -> Any:
    return (classify(error).extensions or {}).get("code")


@pytest.mark.parametrize("message", LIMIT_TEXTS)
def test_a_limit_s_text_without_its_code_is_not_too_complex(message: str) -> None:
    assert code_of(GraphQLError(message)) == "GRAPHQL_VALIDATION_FAILED"
    assert code_of(GraphQLSyntaxError(Source("{"), 0, message)) == "GRAPHQL_PARSE_FAILED"


def test_the_code_an_error_was_raised_with_is_kept_whatever_its_text() -> None:
    error = GraphQLError("anything at all", extensions={"code": "QUERY_TOO_COMPLEX", "n": 1})
    assert classify(error).extensions == {"code": "QUERY_TOO_COMPLEX", "n": 1}


def test_variable_errors_are_told_by_the_node_they_point_at_not_their_text() -> None:
    operation = parse("query($p: Int) { metricNames }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert operation.variable_definitions is not None
    [definition] = operation.variable_definitions
    assert code_of(GraphQLError("any text", definition)) == "BAD_USER_INPUT"
    assert code_of(GraphQLError("Variable '$p' got invalid value 5.")) == (
        "GRAPHQL_VALIDATION_FAILED"
    )


class Gateway:
    """The schema on `limits`, and the registry its error counts go to."""

    def __init__(self, **limits: int) -> None:
        self.registry = CollectorRegistry()
        settings = Settings(limits=Limits(**limits))
        self.schema = build_schema(settings, GatewayMetrics(self.registry))

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> list[GraphQLFormattedError]:
        """The errors of `query`, which must fail before it runs."""
        result = await self.schema.execute(query, variable_values=variables)
        assert result.data is None
        assert result.errors
        return [error.formatted for error in result.errors]

    def counted(self, code: str) -> float | None:
        return self.registry.get_sample_value("gateway_graphql_errors_total", {"code": code})


@pytest.mark.parametrize(
    ("query", "limits", "message"),
    [
        (
            "{ dashboards { widgets { title } } }",
            {"max_depth": 1},
            "'anonymous' exceeds maximum operation depth of 1",
        ),
        (
            "{ __schema { types { fields { type { name } } } } }",
            {"max_depth": 2},
            "'__schema' exceeds maximum operation depth of 2",
        ),
        (
            "{ a: metricNames b: metricNames c: metricNames }",
            {"max_aliases": 2},
            "3 aliases found. Allowed: 2",
        ),
        (
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            {},
            "Maximum introspection depth exceeded",
        ),
        (
            "{ " + "metricNames " * 30 + "}",
            {"max_tokens": 20},
            "Document contains more than 20 tokens.",
        ),
        (  # a run of comments counts too
            "#\n" * 30 + "{ metricNames }",
            {"max_tokens": 20},
            "Document contains more than 20 tokens.",
        ),
    ],
    ids=["depth", "introspection-depth", "aliases", "introspection-lists", "tokens", "comments"],
)
async def test_the_limits_raise_query_too_complex(
    query: str, limits: dict[str, int], message: str
) -> None:
    gateway = Gateway(**limits)
    for _ in range(2):  # the second time from the parse and validation caches
        [error] = await gateway.errors(query)
        assert error["message"] == message
        assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert gateway.counted("QUERY_TOO_COMPLEX") == 2.0  # each error counted once


async def test_a_syntax_error_before_the_token_limit_is_a_parse_error() -> None:
    gateway = Gateway(max_tokens=20)
    [error] = await gateway.errors("{ metricNames ! " + "metricNames " * 30 + "}")
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    assert error["message"].startswith("Syntax Error: Expected Name, found '!'")
    assert gateway.counted("QUERY_TOO_COMPLEX") is None


async def test_validation_and_variable_coercion_errors_keep_their_codes() -> None:
    gateway = Gateway()
    [unused] = await gateway.errors("query($p: Int) { metricNames }")
    assert unused["message"] == "Variable '$p' is never used."
    assert unused["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    [coerced] = await gateway.errors(
        "query($p: String) { metricNames(prefix: $p) }", {"p": {"not": "a string"}}
    )
    assert coerced["message"].startswith("Variable '$p' has invalid value")
    assert coerced["extensions"] == {"code": "BAD_USER_INPUT"}
