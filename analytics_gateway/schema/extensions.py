"""Schema extensions: error codes with masking, and per-operation metrics."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from analytics_gateway.errors import GatewayError
from analytics_gateway.observability import GatewayMetrics, correlation_id

log = logging.getLogger("analytics_gateway.errors")

_TOO_COMPLEX = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|more than \d+ tokens"
    r"|Maximum introspection depth exceeded"
)
# graphql-core's "Did you mean ...?" hints name schema members (fields, enum values, types)
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def classify(error: GraphQLError) -> GraphQLError:
    """Give every error an `extensions.code`; hide unexpected ones behind an id."""
    original = error.original_error
    if isinstance(original, GatewayError):
        error.extensions = {**(error.extensions or {}), **original.as_extensions()}
        return error
    if original is None:
        if _TOO_COMPLEX.search(error.message):
            code = "QUERY_TOO_COMPLEX"
        elif isinstance(error, GraphQLSyntaxError):
            code = "GRAPHQL_PARSE_FAILED"
        elif error.message.startswith("Variable '$"):
            code = "BAD_USER_INPUT"
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        # a copy: validation errors come from a cache shared by requests
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**(error.extensions or {}), "code": code},
        )
    if isinstance(original, ValueError | GraphQLError) and error.path is None:
        # raised by a scalar's parser while coercing input, or a variable value
        # graphql-core refused (it wraps its own coercion error)
        error.extensions = {"code": "BAD_USER_INPUT"}
        return error
    rid = correlation_id.get()
    log.error(
        "unexpected error in %s",
        ".".join(str(p) for p in error.path or []),
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        f"Internal server error (correlation id {rid})",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": rid},
    )


class ErrorCodes(SchemaExtension):
    """Classifies errors of every result: HTTP responses and each streamed result."""

    def __init__(self, metrics: GatewayMetrics, *, hide_suggestions: bool = False) -> None:
        self._metrics = metrics
        self._hide_suggestions = hide_suggestions
        self._streamed = False

    def _process(self, errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
        if not errors:
            return errors
        processed = []
        for error in errors:
            if error.extensions and "code" in error.extensions:
                processed.append(error)  # seen already: neither reclassify nor recount
                continue
            coded = classify(error)
            if self._hide_suggestions:
                coded.message = _SUGGESTION.sub("", coded.message)
            self._metrics.errors.labels(code=str((coded.extensions or {}).get("code"))).inc()
            processed.append(coded)
        return processed

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process(errors)  # type: ignore[union-attr]
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        if self._streamed:
            return
        result = self.execution_context.result
        if result is not None and getattr(result, "errors", None):
            result.errors = self._process(result.errors)
        pre = getattr(self.execution_context, "pre_execution_errors", None)
        if pre:
            self.execution_context.pre_execution_errors = self._process(pre)


class CodedParserCache(ParserCache):
    """`ParserCache` whose failed parses still reach `ErrorCodes`.

    `ParserCache.on_parse` raises a syntax error (or the token limit) out of the
    hook, past the operation, so it would reach the client without a code. Here a
    failed parse leaves the document unset: Strawberry parses again inside the
    operation and reports the error in the result.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class OperationMetrics(SchemaExtension):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        try:
            kind = ctx.operation_type.value
        except (RuntimeError, AttributeError, KeyError):
            kind = "unknown"
        name = (ctx.operation_name or "anonymous")[:64]
        self._metrics.requests.labels(operation_type=kind, operation_name=name).inc()
        self._metrics.request_latency.labels(operation_type=kind).observe(
            time.perf_counter() - started
        )
