"""Spans of a GraphQL operation: the operation, and each root field's resolver.

Only root fields get a span of their own: they are where a request reads and
writes (through loaders and backends, which have spans too); a span per leaf
field would cost more than the fields. The operation span carries the
operation's type and name and a hash of its document, never variable values.
Added to the schema only when tracing is on (`build_schema`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from analytics_gateway import tracing

ResolveInfo = GraphQLResolveInfo[Any]


def document_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class OperationSpans(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        attributes = {"graphql.document.hash": document_hash(ctx.query or "")}
        with tracing.span("graphql", attributes) as span:
            yield
            if span is None or not span.is_recording():
                return
            try:
                kind = ctx.operation_type.value
            except (RuntimeError, AttributeError, KeyError):
                kind = None  # not parsed
            if kind is not None:
                span.set_attribute("graphql.operation.type", kind)
            name = ctx.operation_name
            if name:
                span.set_attribute("graphql.operation.name", name)
            span.update_name(" ".join(part for part in (kind, name) if part) or "graphql")
            principal = getattr(ctx.context, "principal", None)
            if principal is not None:
                span.set_attribute("analytics.tenant", principal.tenant)
            if ctx.result is not None and ctx.result.errors:
                span.set_attribute("graphql.errors", len(ctx.result.errors))

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: ResolveInfo,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if (
            info.path.prev is not None
            or info.field_name.startswith("__")
            or info.operation.operation.value == OperationType.SUBSCRIPTION.value
        ):
            return _next(root, info, *args, **kwargs)
        return self._traced(_next, root, info, args, kwargs)

    async def _traced(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: ResolveInfo,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        field = f"{info.parent_type.name}.{info.field_name}"
        with tracing.span(f"resolve {field}", {"graphql.field.path": field}):
            result = _next(root, info, *args, **kwargs)
            if isawaitable(result):
                result = await result
            return result

    def get_results(self) -> dict[str, Any]:
        trace_id = tracing.trace_id()
        return {"traceId": trace_id} if trace_id is not None else {}
