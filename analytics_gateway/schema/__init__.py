"""Strawberry types and the `Schema` assembly with its guards and extensions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import GraphQLError, specified_rules
from graphql.validation import (
    ASTValidationRule,
    MaxIntrospectionDepthRule,
    NoSchemaIntrospectionCustomRule,
)
from prometheus_client import CollectorRegistry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from analytics_gateway import tracing
from analytics_gateway.config import Settings
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.schema.audit_hook import record_mutations
from analytics_gateway.schema.extensions import (
    CodedParserCache,
    CodedValidationCache,
    ErrorCodes,
    OperationMetrics,
    QueryCostReport,
    ValidationRules,
)
from analytics_gateway.schema.guards import introspection_depth_limit, too_complex
from analytics_gateway.schema.mutation import Mutation
from analytics_gateway.schema.operation_spans import OperationSpans
from analytics_gateway.schema.query import Query
from analytics_gateway.schema.scalars import SCALAR_MAP
from analytics_gateway.schema.subscription import Subscription


class GatewaySchema(strawberry.Schema):
    """Leaves error logging to `ErrorCodes`: expected errors are not logged as failures."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(settings: Settings, metrics: GatewayMetrics) -> strawberry.Schema:
    limits = settings.limits
    # Rule classes are built once, so the validation cache (keyed on them) hits.
    # The limits report QUERY_TOO_COMPLEX themselves, graphql-core's own
    # introspection depth rule included; the token limit is the parse step's.
    introspection_depth = too_complex(MaxIntrospectionDepthRule)
    rules: list[type[ASTValidationRule]] = [
        introspection_depth if rule is MaxIntrospectionDepthRule else rule
        for rule in specified_rules
    ]
    rules += [
        too_complex(depth_rule(limits.max_depth, None, None)),
        introspection_depth_limit(limits.max_depth),
        too_complex(alias_rule(limits.max_aliases)),
    ]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ErrorCodes, metrics, hide_suggestions=not settings.introspection),
        partial(OperationMetrics, metrics),
        QueryCostReport,
        partial(ValidationRules, tuple(rules)),
        partial(CodedParserCache, max_tokens=limits.max_tokens, maxsize=256),
        partial(CodedValidationCache, maxsize=256),
    ]
    if tracing.enabled():  # its resolver hook costs every field something: only when on
        extensions.append(OperationSpans)
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=not settings.introspection,
            scalar_map=SCALAR_MAP,
        ),
    )
    return record_mutations(schema)  # every root mutation field records an audit entry


def print_sdl() -> str:
    """The SDL of the schema (independent of settings that only add guards)."""
    return build_schema(Settings(), GatewayMetrics(CollectorRegistry())).as_str() + "\n"
