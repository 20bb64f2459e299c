"""Schema extensions: error codes with masking, the coded parse and validation
steps, and per-operation metrics.

Errors get their code where they are raised: the gateway's own errors carry it
(`errors.py`), the query limits report it (`guards.too_complex`, the token limit
in `CodedParserCache`), and validation codes what it finds
(`CodedValidationCache`). `classify` tells the rest apart by type and structure,
never by message text.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, parse
from graphql.language import DocumentNode, VariableDefinitionNode
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension, ValidationCache
from strawberry.schema.schema import validate_document
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.graphql import OperationType

from analytics_gateway import tracing
from analytics_gateway.errors import BadUserInput, GatewayError, QueryTooComplex
from analytics_gateway.observability import GatewayMetrics, client_error, correlation_id

log = logging.getLogger("analytics_gateway.errors")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# graphql-core's "Did you mean ...?" hints name schema members (fields, enum values, types)
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def _coerces_a_variable(error: GraphQLError) -> bool:
    """graphql-core's errors from coercing variable values point at the variable's definition.

    (Validation errors may too, "Variable '$x' is never used.", but validation
    codes its errors before they get here.)
    """
    return error.path is None and any(
        isinstance(node, VariableDefinitionNode) for node in error.nodes or ()
    )


def classify(error: GraphQLError) -> GraphQLError:
    """Give every error an `extensions.code`; hide unexpected ones behind an id."""
    original = error.original_error
    if isinstance(original, GatewayError):
        message, extensions = client_error(original)
        if message == error.message:
            error.extensions = {**(error.extensions or {}), **extensions}
            return error
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions={**(error.extensions or {}), **extensions},
        )
    if original is None:
        code = (error.extensions or {}).get("code")
        if code is None:
            if isinstance(error, GraphQLSyntaxError):
                code = PARSE_FAILED
            elif _coerces_a_variable(error):
                code = BadUserInput.code
            else:
                code = VALIDATION_FAILED
        # a copy: validation errors come from a cache shared by requests
        return _with_code(error, code)
    if isinstance(original, ValueError | GraphQLError) and error.path is None:
        # raised by a scalar's parser while coercing input, or a variable value
        # graphql-core refused (it wraps its own coercion error)
        error.extensions = {"code": BadUserInput.code}
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


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    """A copy of `error` with `code` (its other extensions kept)."""
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )


def _once_each(errors: list[GraphQLError]) -> list[GraphQLError]:
    """A document refused for the same reason many times (`@a @a @a ...`) is told once.

    Errors of execution (with a path) each belong to their own field and all stay.
    """
    seen: set[str] = set()
    kept = []
    for error in errors:
        if error.path is None:
            if error.message in seen:
                continue
            seen.add(error.message)
        kept.append(error)
    return kept


class ErrorCodes(SchemaExtension):
    """Classifies errors of every result: HTTP responses and each streamed result."""

    def __init__(self, metrics: GatewayMetrics, *, hide_suggestions: bool = False) -> None:
        self._metrics = metrics
        self._hide_suggestions = hide_suggestions
        self._streamed = False
        # every error this operation processed, and what it became: the same error can
        # be met twice (in the result and in `pre_execution_errors`), and is counted once
        self._done: dict[int, tuple[GraphQLError, GraphQLError]] = {}

    def _process(self, errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
        if not errors:
            return errors
        processed = []
        for error in errors:
            done = self._done.get(id(error))
            if done is None:
                coded = classify(error)
                if self._hide_suggestions:
                    coded.message = _SUGGESTION.sub("", coded.message)
                self._metrics.errors.labels(code=str((coded.extensions or {}).get("code"))).inc()
                # both are kept here, so neither id can be reused while this runs
                done = self._done[id(error)] = self._done[id(coded)] = (error, coded)
            processed.append(done[1])
        return _once_each(processed)

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


def parse_within(query: str, max_tokens: int) -> DocumentNode:
    """`query` parsed; more than `max_tokens` tokens fail with QUERY_TOO_COMPLEX.

    graphql-core stops at the first token past the limit with a syntax error like
    any other. The limit is what stopped it when one more token of budget moves
    the failure (a syntax error stays where it is); both parses read at most
    `max_tokens + 1` tokens.
    """
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError as error:
        failure = error
    try:
        parse(query, max_tokens=max_tokens + 1)
    except GraphQLSyntaxError as again:
        if again.positions == failure.positions:
            raise failure from None
    raise GraphQLError(
        f"Document contains more than {max_tokens} tokens.",
        source=failure.source,
        positions=failure.positions,
        extensions={"code": QueryTooComplex.code},
    )


@functools.cache
def _parse_cache(maxsize: int | None) -> Callable[[str, int], DocumentNode]:
    # one LRU cache per size, shared by every request (as in Strawberry's `ParserCache`)
    return functools.lru_cache(maxsize=maxsize)(parse_within)


class CodedParserCache(SchemaExtension):
    """Parses through an LRU cache, within the token limit; failures carry their code.

    A failed parse is not raised out of the hook: it would pass the operation and
    reach the client without a code (or end a subscription's connection). It
    leaves the document unset instead, so Strawberry parses again inside the
    operation, within the same limit, and reports the failure in the result: a
    syntax error as it is, a document over the token limit as this step's
    QUERY_TOO_COMPLEX (the code and message put on the error Strawberry reports).
    """

    def __init__(self, *, max_tokens: int, maxsize: int | None = 128) -> None:
        self._max_tokens = max_tokens
        self._parse = _parse_cache(maxsize)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self._max_tokens
        too_complex: GraphQLError | None = None
        if context.query:
            try:
                context.graphql_document = self._parse(context.query, self._max_tokens)
            except GraphQLSyntaxError:
                pass  # Strawberry's own parse reports it
            except GraphQLError as error:
                too_complex = error
        yield
        if too_complex is not None:
            for failure in context.pre_execution_errors or ():
                failure.message = too_complex.message
                failure.extensions = too_complex.extensions


@functools.cache
def _validation_cache(maxsize: int | None) -> Callable[..., list[GraphQLError]]:
    def validate(
        schema: Any, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        return [_validation_coded(error) for error in validate_document(schema, document, rules)]

    return functools.lru_cache(maxsize=maxsize)(validate)


def _validation_coded(error: GraphQLError) -> GraphQLError:
    """GRAPHQL_VALIDATION_FAILED, unless a rule gave its own code or a scalar refused a literal.

    A scalar's error stays the original error (`classify` codes it as input).
    """
    if error.original_error is not None or (error.extensions or {}).get("code"):
        return error
    return _with_code(error, VALIDATION_FAILED)


class CodedValidationCache(ValidationCache):
    """`ValidationCache` whose errors carry their code, GRAPHQL_VALIDATION_FAILED
    unless a limit rule reported its own (the coded errors are what is cached)."""

    def __init__(self, maxsize: int | None = 128) -> None:
        super().__init__(maxsize=maxsize)
        self.cached_validate_document = _validation_cache(maxsize)


class ValidationRules(SchemaExtension):
    """Sets the operation's validation rules to one tuple, built with the schema.

    Set whole, not added to as by `AddValidationRules`, so that a stock rule can be
    swapped for a coded one; built once, so the validation cache (keyed on it) hits.
    """

    def __init__(self, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self._rules = rules

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = self._rules
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
        self._metrics.requests.labels(operation_type=kind).inc()
        trace_id = tracing.trace_id(
            sampled_only=True
        )  # an exemplar: a slow bucket links to a trace
        self._metrics.request_latency.labels(operation_type=kind).observe(
            time.perf_counter() - started,
            exemplar={"trace_id": trace_id} if trace_id is not None else None,
        )


class QueryCostReport(SchemaExtension):
    """`extensions.cost` on every response: the points the request's metric reads were
    estimated at (`query_cost`), and the tenant's limit per request. Not on the events
    of a subscription: they read nothing, and would each pay for saying so."""

    async def get_results(self) -> dict[str, Any]:
        try:
            if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
                return {}
        except (RuntimeError, AttributeError, KeyError):
            pass  # not parsed: an error answer, which still says what it cost
        loaders = getattr(self.execution_context.context, "loaders", None)
        cost = getattr(loaders, "cost", None)
        if cost is None:
            return {"cost": {"points": 0}}
        try:
            return {"cost": await cost.report()}
        except GatewayError:  # the quotas could not be read: the points are still known
            return {"cost": {"points": cost.points}}
