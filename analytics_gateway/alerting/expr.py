"""The alert condition language: the `condition` start rule of the shared grammar
(`analytics_gateway.grammar`), a typed AST, errors with positions.

    error_rate > 0.05
    avg(cpu_usage{host="a"}[5m]) > 90 and p95(latency_ms[10m]) > 250
    errors / requests > 0.05
    http-errors - retries > 5
    cpu_usage outside band(7d, sensitivity=high)

A bare metric reads its latest value within the last 5 minutes (left of
`outside`, its average over the band's resolution, e.g. 5 minutes for 7d, the
granularity the band is learned at); `fn(metric[w])`
aggregates the window `w` (avg sum min max count last p50 p95 p99 rate). Label
matchers are `=`, `!=`, `=~` and `!~` (regular expressions match whole values).
Metric names follow `analytics_gateway.names` and may contain `-`, so `a-b` is
the metric `a-b` and subtraction after a name is written with a space before
the minus sign (`a - b`); dashboard variables (`$host`) are refused.
Conditions are parsed into the AST below and interpreted; nothing is `eval`ed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import VisitError

from analytics_gateway import grammar
from analytics_gateway.alerting.band import resolution_ms
from analytics_gateway.alerting.model import LabelMatcher as Matcher
from analytics_gateway.alerting.model import MatchOp
from analytics_gateway.domain import Aggregation
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput
from analytics_gateway.names import NAME_RE, NAME_RULE
from analytics_gateway.regexes import PatternError, compile_pattern

DEFAULT_LOOKBACK_MS = 5 * 60_000
MAX_WINDOW_MS = 90 * 86_400_000
MAX_NODES = 64

FUNCTIONS = {a.value: a for a in Aggregation}

Sensitivity = Literal["low", "medium", "high"]


class ConditionError(BadUserInput):
    """A condition that does not parse or type-check; names the column and what was expected."""

    def __init__(self, message: str, column: int, source: str) -> None:
        pointer = f"\n  {source}\n  {' ' * (column - 1)}^"
        super().__init__(
            f"condition: {message} at column {column}{pointer}", field="condition", column=column
        )
        self.column = column


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Selector:
    """One value per series of `metric` matching `matchers`: `function` over `window_ms`."""

    metric: str
    matchers: tuple[Matcher, ...]
    function: Aggregation
    window_ms: int

    def selects(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True)
class Arith:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Minus:
    operand: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic:
    op: str  # and / or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Outside:
    """The selector's value lies outside the band learned from its own history."""

    selector: Selector
    window_ms: int
    sensitivity: Sensitivity


Node = Number | Selector | Arith | Minus | Compare | Logic | Not | Outside
NUMERIC = (Number, Selector, Arith, Minus)


@dataclass(frozen=True)
class Positioned:
    node: Node
    column: int


@v_args(meta=True)
class _Build(Transformer_NonRecursive[Token, Positioned]):
    """Parse tree -> AST, checking types; every node remembers its column.

    Non-recursive, so a long chain such as `1 + 1 + ... > x` cannot exhaust the stack
    before `MAX_NODES` refuses it."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source
        self._nodes = 0
        self._bare: set[int] = set()  # ids of the bare selectors' nodes (no function)

    def _at(self, node: Node, column: int) -> Positioned:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self._fail(f"the condition has more than {MAX_NODES} parts", column)
        return Positioned(node, column)

    def _fail(self, message: str, column: int) -> Any:
        raise ConditionError(message, column, self._source)

    def _numeric(self, item: Positioned, role: str) -> Node:
        if not isinstance(item.node, NUMERIC):
            self._fail(f"{role} must be a number or a metric, not a condition", item.column)
        return item.node

    def _boolean(self, item: Positioned, role: str) -> Node:
        if isinstance(item.node, NUMERIC):
            self._fail(f"{role} must be a condition (e.g. a comparison), not a value", item.column)
        return item.node

    def _duration(self, token: Token) -> int:
        try:
            ms = parse_duration_ms(str(token), field="condition")
        except BadUserInput:
            return int(self._fail(f"{token!s} is not a positive duration", token.column or 1))
        if ms > MAX_WINDOW_MS:
            self._fail(f"{token!s} is longer than the 90d maximum", token.column or 1)
        return ms

    def number(self, meta: Any, children: list[Token]) -> Positioned:
        return self._at(Number(float(children[0])), meta.column)

    def matchers(self, meta: Any, children: list[Matcher | None]) -> tuple[Matcher, ...]:
        return tuple(m for m in children if m is not None)

    def matcher(self, meta: Any, children: list[Token]) -> Matcher:
        label, op, raw = children
        value = grammar.unquote(raw)
        if op in ("=~", "!~"):
            try:
                compile_pattern(value, "condition")
            except PatternError as exc:
                self._fail(exc.message.removeprefix("condition: "), raw.column or 1)
        return Matcher(str(label), MatchOp(str(op)), value)

    def window(self, meta: Any, children: list[Token]) -> int:
        return self._duration(children[0])

    def selector(self, meta: Any, children: list[Any]) -> Positioned:
        metric, matchers, window = self._parts(children)
        if window is not None:
            self._fail(
                f"a window needs a function, e.g. avg({metric}[...]); "
                f"one of {', '.join(FUNCTIONS)}",
                meta.column,
            )
        bare = self._at(
            Selector(metric, matchers, Aggregation.LAST, DEFAULT_LOOKBACK_MS), meta.column
        )
        self._bare.add(id(bare))
        return bare

    def _parts(self, children: list[Any]) -> tuple[str, tuple[Matcher, ...], int | None]:
        matchers: tuple[Matcher, ...] = ()
        window: int | None = None
        for child in children[1:]:
            if isinstance(child, tuple):
                matchers = child
            elif isinstance(child, int):
                window = child
        metric = str(children[0])
        if not NAME_RE.match(metric):
            self._fail(f"{metric!r} is not a metric name: {NAME_RULE}", children[0].column or 1)
        return metric, matchers, window

    def paren(self, meta: Any, children: list[Positioned]) -> Positioned:
        return children[0]

    def call(self, meta: Any, children: list[Any]) -> Positioned:
        function = FUNCTIONS.get(str(children[0]).lower())
        if function is None:
            self._fail(
                f"unknown function {children[0]!s}; use one of {', '.join(FUNCTIONS)}",
                meta.column,
            )
        assert function is not None
        metric, matchers, window = self._parts(children[1:])
        return self._at(
            Selector(metric, matchers, function, window or DEFAULT_LOOKBACK_MS), meta.column
        )

    def string_call(self, meta: Any, children: list[Any]) -> Positioned:
        raise ConditionError(
            f"{children[0]!s}(...) of a quoted string belongs in dashboard formulas and KPIs; "
            "a condition reads metrics, e.g. sum(plays[1h])",
            meta.column,
            self._source,
        )

    def arith(self, meta: Any, children: list[Any]) -> Positioned:
        left, op, right = children
        return self._at(
            Arith(str(op), self._numeric(left, "an operand"), self._numeric(right, "an operand")),
            meta.column,
        )

    def minus(self, meta: Any, children: list[Any]) -> Positioned:
        operand = self._numeric(children[1], "the operand of '-'")
        if isinstance(operand, Number):
            return self._at(Number(-operand.value), meta.column)
        return self._at(Minus(operand), meta.column)

    def compare(self, meta: Any, children: list[Any]) -> Positioned:
        left, op, right = children
        lhs = self._numeric(left, "the left side of a comparison")
        rhs = self._numeric(right, "the right side of a comparison")
        if isinstance(lhs, Number) and isinstance(rhs, Number):
            self._fail("this comparison reads no metric", meta.column)
        return self._at(Compare(str(op), lhs, rhs), meta.column)

    def logic(self, meta: Any, children: list[Any]) -> Positioned:
        left, op, right = children
        return self._at(
            Logic(
                str(op).lower(),
                self._boolean(left, f"the left side of '{op!s}'"),
                self._boolean(right, f"the right side of '{op!s}'"),
            ),
            meta.column,
        )

    def negation(self, meta: Any, children: list[Any]) -> Positioned:
        return self._at(Not(self._boolean(children[1], "the operand of 'not'")), meta.column)

    def band_arg(self, meta: Any, children: list[Token]) -> tuple[str, str, int]:
        return str(children[0]), str(children[1]), meta.column

    def band(self, meta: Any, children: list[Any]) -> tuple[int, Sensitivity]:
        window = self._duration(children[1])
        sensitivity: Sensitivity = "medium"
        for key, value, column in children[2:]:
            if key != "sensitivity":
                self._fail(f"unknown band option {key!r}; use sensitivity", column)
            if value not in ("low", "medium", "high"):
                self._fail("sensitivity must be low, medium or high", column)
            sensitivity = value
        return window, sensitivity

    def outside(self, meta: Any, children: list[Any]) -> Positioned:
        subject, _, (window, sensitivity) = children
        if not isinstance(subject.node, Selector):
            self._fail(
                "the left side of 'outside' must be one metric (its history makes the band)",
                subject.column,
            )
        selector = subject.node
        if id(subject) in self._bare:
            # like with like: the band is learned from averages per resolution bucket,
            # so a bare metric is that average now, not its last raw point (whose
            # noise the band never saw: on a noisy series it fired many times a day)
            selector = Selector(
                selector.metric, selector.matchers, Aggregation.AVG, resolution_ms(window)
            )
        return self._at(Outside(selector, window, sensitivity), meta.column)


@dataclass(frozen=True)
class Condition:
    """A parsed condition and its source text."""

    source: str
    root: Node

    def selectors(self) -> list[Selector]:
        return self._selectors

    @cached_property
    def _selectors(self) -> list[Selector]:
        found: list[Selector] = []
        _collect(self.root, found)
        return found

    @property
    def is_dynamic(self) -> bool:
        return _has_band(self.root)


def _collect(node: Node, found: list[Selector]) -> None:
    if isinstance(node, Selector):
        found.append(node)
    elif isinstance(node, Arith | Compare | Logic):
        _collect(node.left, found)
        _collect(node.right, found)
    elif isinstance(node, Minus | Not):
        _collect(node.operand, found)
    elif isinstance(node, Outside):
        found.append(node.selector)


def _has_band(node: Node) -> bool:
    if isinstance(node, Outside):
        return True
    if isinstance(node, Logic):
        return _has_band(node.left) or _has_band(node.right)
    if isinstance(node, Not):
        return _has_band(node.operand)
    return False


def parse_condition(source: str) -> Condition:
    """Parse and type-check; raise `ConditionError` naming the column and what was expected."""
    if len(source) > 2000:
        raise ConditionError("the condition is longer than 2000 characters", 1, source[:40])
    try:
        tree = grammar.parse(source, "condition")
        _refuse_variables(tree)
        result = _Build(source).transform(tree)
    except grammar.ExpressionError as exc:
        raise ConditionError(exc.message, exc.column, source) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, grammar.ExpressionError):
            raise ConditionError(exc.orig_exc.message, exc.orig_exc.column, source) from None
        raise
    if isinstance(result.node, NUMERIC):
        raise ConditionError(
            "a condition must compare (e.g. error_rate > 0.05), not just compute a value",
            1,
            source,
        )
    return Condition(source, result.node)


def _refuse_variables(tree: Tree[Token]) -> None:
    """`$var` is for dashboards, where a value is chosen; a rule has no one to choose it."""
    found = grammar.variable_names(tree)
    if found:
        raise grammar.ExpressionError(
            f"{str(found[0])!r} holds a dashboard variable; "
            "an alert condition names its metrics and labels without $variables",
            found[0].column or 1,
        )
