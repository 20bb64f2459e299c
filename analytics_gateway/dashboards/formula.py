"""KPI formulas such as `revenue / active_users`: the `formula` start rule of the
shared expression grammar (`analytics_gateway.grammar`), never `eval`.

    formula := sum of numbers, metrics and event counts: + - * /, unary minus, parentheses
    metric  := NAME ( "{" NAME "=" STRING ("," NAME "=" STRING)* "}" )?
    events  := "events" "(" STRING ")"      the number of events of that type

`events("song_play")` counts the events of one type (per bucket for a series,
over the whole range for a KPI's value); it is the only function a formula
takes, and its argument is a quoted event type.

Metric names follow `analytics_gateway.names` and may contain `-`: `a-b` is the
metric `a-b`, so subtraction after a name is written with a space before the
minus sign (`http-errors - retries`, `a -1`). Names may hold dashboard variables
(`$country`, `${country}`); they are checked as metric names once substituted.
What only alert conditions take (functions, windows, comparisons, `and`/`or`,
matchers other than `=`) is refused with a message saying so, as are more than
`MAX_METRICS` metrics and event counts together, `MAX_LENGTH` characters or
`MAX_DEPTH` levels of nesting.
Evaluation is pointwise: a value that is missing, or a division by zero, gives no
value (None) rather than an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from lark import Token, Transformer_NonRecursive, v_args
from lark.exceptions import VisitError

from analytics_gateway import grammar
from analytics_gateway.errors import BadUserInput
from analytics_gateway.validation import NAME_RE

MAX_LENGTH = 500
MAX_METRICS = 10
MAX_DEPTH = grammar.MAX_DEPTH


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class MetricRef:
    name: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class EventRef:
    """`events("type")`: the number of events of one type."""

    type: str


Node = Number | MetricRef | EventRef | Negate | Binary
EVENTS_FUNCTION = "events"


def _refused(message: str, column: int) -> BadUserInput:
    return BadUserInput(f"formula: {message} at column {column}", field="formula", column=column)


@v_args(meta=True)
class _Build(Transformer_NonRecursive[Token, Node]):
    """Parse tree -> formula AST; what only conditions take is refused by name."""

    def _fail(self, message: str, column: int) -> NoReturn:
        raise _refused(message, column)

    def number(self, meta: Any, children: list[Token]) -> Node:
        return Number(float(children[0]))

    def selector(self, meta: Any, children: list[Any]) -> Node:
        name, *rest = children
        labels: dict[str, str] = {}
        for part in rest:
            if isinstance(part, Token):  # a window: [DURATION]
                self._fail(
                    f"{name!s}[{part!s}]: a formula takes no windows; "
                    "the widget's time range and step apply to every metric",
                    meta.column,
                )
            labels.update(part)
        return MetricRef(str(name), tuple(sorted(labels.items())))

    def matchers(self, meta: Any, children: list[tuple[str, str] | None]) -> dict[str, str]:
        return dict(m for m in children if m is not None)

    def matcher(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        label, op, raw = children
        if "$" in label:
            self._fail(
                f"label name {label!s} holds a variable; variables go in label values",
                label.column or meta.column,
            )
        if op != "=":
            self._fail(
                f"{label!s}{op!s}{raw!s}: a formula's label matchers take '=' only",
                op.column or meta.column,
            )
        return str(label), grammar.unquote(raw)

    def window(self, meta: Any, children: list[Token]) -> Token:
        return children[0]

    def call(self, meta: Any, children: list[Any]) -> Node:
        if str(children[0]) == EVENTS_FUNCTION:
            self._fail(
                f'events(...) takes a quoted event type, e.g. events("{children[1]!s}")',
                meta.column,
            )
        self._fail(
            f'{children[0]!s}(...): a formula takes no functions but events("type"); '
            "set the widget's aggregation instead",
            meta.column,
        )

    def string_call(self, meta: Any, children: list[Token]) -> Node:
        function, raw = children
        if str(function) != EVENTS_FUNCTION:
            self._fail(
                f'unknown function {function!s}(...); a formula counts events with events("type")',
                meta.column,
            )
        event_type = grammar.unquote(raw)
        if not NAME_RE.match(event_type):
            self._fail(f"events({event_type!r}): not a valid event type", raw.column or 1)
        return EventRef(event_type)

    def paren(self, meta: Any, children: list[Node]) -> Node:
        return children[0]

    def minus(self, meta: Any, children: list[Any]) -> Node:
        return Negate(children[1])

    def arith(self, meta: Any, children: list[Any]) -> Node:
        left, op, right = children
        return Binary(str(op), left, right)

    def _condition_only(self, meta: Any, children: list[Any]) -> NoReturn:
        self._fail(grammar.FORMULA_COMPUTES, meta.column)

    compare = logic = negation = outside = _condition_only


def parse(text: str) -> Node:
    """The formula's syntax tree, or `BadUserInput` saying what is wrong."""
    if not text.strip():
        raise BadUserInput("formula is empty", field="formula")
    if len(text) > MAX_LENGTH:
        raise BadUserInput(f"formula is longer than {MAX_LENGTH} characters", field="formula")
    try:
        node = _Build().transform(grammar.parse(text, "formula"))
    except grammar.ExpressionError as exc:
        raise _refused(exc.message, exc.column) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, BadUserInput):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, grammar.ExpressionError):
            raise _refused(exc.orig_exc.message, exc.orig_exc.column) from None
        raise
    if len(metric_refs(node)) + len(event_refs(node)) > MAX_METRICS:
        raise BadUserInput(
            f"formula: at most {MAX_METRICS} metrics and event counts", field="formula"
        )
    return node


def _walk(node: Node) -> Iterator[MetricRef | EventRef]:
    if isinstance(node, MetricRef | EventRef):
        yield node
    elif isinstance(node, Negate):
        yield from _walk(node.operand)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)


def metric_refs(node: Node) -> list[MetricRef]:
    """The distinct metrics the formula reads, in order of appearance."""
    return list(dict.fromkeys(r for r in _walk(node) if isinstance(r, MetricRef)))


def event_refs(node: Node) -> list[EventRef]:
    """The distinct event counts the formula reads, in order of appearance."""
    return list(dict.fromkeys(r for r in _walk(node) if isinstance(r, EventRef)))


def transform(node: Node, fn: Callable[[MetricRef], MetricRef]) -> Node:
    """The same tree with every metric reference replaced by `fn(ref)`."""
    if isinstance(node, MetricRef):
        return fn(node)
    if isinstance(node, Negate):
        return Negate(transform(node.operand, fn))
    if isinstance(node, Binary):
        return Binary(node.op, transform(node.left, fn), transform(node.right, fn))
    return node


def evaluate(
    node: Node,
    values: Mapping[MetricRef, float | None],
    counts: Mapping[EventRef, float | None] | None = None,
) -> float | None:
    """The formula's value given each metric's value and each event count; None when
    undefined."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, MetricRef):
        return values.get(node)
    if isinstance(node, EventRef):
        return (counts or {}).get(node)
    if isinstance(node, Negate):
        inner = evaluate(node.operand, values, counts)
        return None if inner is None else -inner
    left = evaluate(node.left, values, counts)
    right = evaluate(node.right, values, counts)
    if left is None or right is None:
        return None
    if node.op == "+":
        result = left + right
    elif node.op == "-":
        result = left - right
    elif node.op == "*":
        result = left * right
    elif right == 0:
        return None
    else:
        result = left / right
    return result if math.isfinite(result) else None
