"""Strawberry types and the `Schema` assembly with its guards and extensions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from prometheus_client import CollectorRegistry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from analytics_gateway.config import Settings
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.schema.extensions import CodedParserCache, ErrorCodes, OperationMetrics
from analytics_gateway.schema.guards import introspection_depth_limit
from analytics_gateway.schema.mutation import Mutation
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
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ErrorCodes, metrics, hide_suggestions=not settings.introspection),
        partial(OperationMetrics, metrics),
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(QueryDepthLimiter, max_depth=limits.max_depth),
        partial(AddValidationRules, [introspection_depth_limit(limits.max_depth)]),
        partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        partial(CodedParserCache, maxsize=256),
    ]
    if not settings.introspection:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=not settings.introspection,
            scalar_map=SCALAR_MAP,
        ),
    )


def print_sdl() -> str:
    """The SDL of the schema (independent of settings that only add guards)."""
    return build_schema(Settings(), GatewayMetrics(CollectorRegistry())).as_str() + "\n"
