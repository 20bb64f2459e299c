"""Validation rules that limit a query's size, each error coded QUERY_TOO_COMPLEX.

`too_complex(rule)` makes any rule (Strawberry's depth and alias limiters,
graphql-core's introspection depth rule) report its errors with that code, so
no one has to recognise them later by their text.

`QueryDepthLimiter` skips every field whose name starts with `__`, so
`{ __schema { types { fields { type { ofType { ofType ... } } } } } }` could nest
without bound. `introspection_depth_limit` measures `__schema` and `__type`
selections the same way (a root field is depth 0) and reports the limiter's message.
"""

from __future__ import annotations

from typing import Any, cast

from graphql import GraphQLError
from graphql.language import (
    SKIP,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    VisitorAction,
)
from graphql.validation import ASTValidationContext, ASTValidationRule

from analytics_gateway.errors import QueryTooComplex

TOO_COMPLEX = QueryTooComplex.code


class _TooComplexContext:
    """The validation context as a limit rule sees it: what it reports is coded.

    The limiters report through the context they are given (Strawberry's call
    `context.report_error` from their `__init__`), so the code is added there.
    """

    def __init__(self, context: ASTValidationContext) -> None:
        self._context = context

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": TOO_COMPLEX}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def too_complex(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """`rule`, with each error it reports coded QUERY_TOO_COMPLEX. Build it once per schema."""

    def __init__(self: ASTValidationRule, context: ASTValidationContext) -> None:
        rule.__init__(self, cast(ASTValidationContext, _TooComplexContext(context)))

    return type(rule.__name__, (rule,), {"__init__": __init__, "__doc__": rule.__doc__})


_Node = FieldNode | FragmentSpreadNode | InlineFragmentNode | FragmentDefinitionNode


def _exceeds(context: ASTValidationContext, root: FieldNode, max_depth: int) -> bool:
    """Whether some field below `root` is nested deeper than `max_depth`.

    Walks with an explicit stack (long fragment chains cannot hit the recursion
    limit) and enters each fragment at most once per depth (repeated spreads cannot
    blow up the walk; cycles end there too).
    """
    stack: list[tuple[_Node, int]] = [(root, 0)]
    entered: set[tuple[str, int]] = set()
    while stack:
        node, depth = stack.pop()
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = context.get_fragment(name)
            if fragment is None or (name, depth) in entered:
                continue
            entered.add((name, depth))
            node = fragment
        elif isinstance(node, FieldNode) and depth > max_depth:
            return True
        if node.selection_set is not None:
            below = depth + 1 if isinstance(node, FieldNode) else depth
            for selection in node.selection_set.selections:
                if isinstance(selection, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                    stack.append((selection, below))
    return False


def introspection_depth_limit(max_depth: int) -> type[ASTValidationRule]:
    class IntrospectionDepthLimit(ASTValidationRule):
        def enter_field(self, node: FieldNode, *_args: Any) -> VisitorAction:
            if node.name.value not in ("__schema", "__type"):
                return None
            if _exceeds(self.context, node, max_depth):
                self.report_error(
                    GraphQLError(
                        f"'{node.name.value}' exceeds maximum operation depth of {max_depth}",
                        [node],
                        extensions={"code": TOO_COMPLEX},
                    )
                )
            return SKIP

    return IntrospectionDepthLimit
