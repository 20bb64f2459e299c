"""KPI formulas such as `revenue / active_users`: a tiny parser, never `eval`.

    expr    := term (("+" | "-") term)*
    term    := factor (("*" | "/") factor)*
    factor  := NUMBER | metric | "(" expr ")" | "-" factor
    metric  := NAME ( "{" NAME "=" STRING ("," NAME "=" STRING)* "}" )?

Names may hold dashboard variables (`$country`); they are checked as metric
names once substituted. Evaluation is pointwise: a value that is missing, or a
division by zero, gives no value (None) rather than an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from analytics_gateway.errors import BadUserInput

MAX_LENGTH = 500
MAX_METRICS = 10
MAX_DEPTH = 32

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<name>(?:[A-Za-z_:][A-Za-z0-9_:.]*|\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*)+)"
    r'|(?P<string>"[^"\\]*")'
    r"|(?P<op>[-+*/(){},=]))"
)


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


Node = Number | MetricRef | Negate | Binary


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise BadUserInput(
                f"formula: unexpected character {text[pos:].lstrip()[:1]!r}", field="formula"
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise BadUserInput("formula: unexpected end", field="formula")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        kind, value = self.take()
        if kind != "op" or value != op:
            raise BadUserInput(f"formula: expected {op!r}, found {value!r}", field="formula")

    def at(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in ops

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BadUserInput("formula: nested too deeply", field="formula")
        node = self.term()
        while self.at("+", "-"):
            node = Binary(self.take()[1], node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.at("*", "/"):
            node = Binary(self.take()[1], node, self.factor())
        return node

    def factor(self) -> Node:
        kind, value = self.take()
        if kind == "number":
            return Number(float(value))
        if kind == "name":
            return MetricRef(value, self.selector())
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "op" and value == "-":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise BadUserInput("formula: nested too deeply", field="formula")
            node = Negate(self.factor())
            self.depth -= 1
            return node
        raise BadUserInput(f"formula: unexpected {value!r}", field="formula")

    def selector(self) -> tuple[tuple[str, str], ...]:
        if not self.at("{"):
            return ()
        self.take()
        labels: dict[str, str] = {}
        while True:
            kind, key = self.take()
            if kind != "name":
                raise BadUserInput(
                    f"formula: expected a label name, found {key!r}", field="formula"
                )
            self.expect("=")
            kind, quoted = self.take()
            if kind != "string":
                raise BadUserInput(
                    f"formula: expected a quoted value, found {quoted!r}", field="formula"
                )
            labels[key] = quoted[1:-1]
            if self.at("}"):
                self.take()
                return tuple(sorted(labels.items()))
            self.expect(",")


def parse(text: str) -> Node:
    """The formula's syntax tree, or `BadUserInput` saying what is wrong."""
    if not text.strip():
        raise BadUserInput("formula is empty", field="formula")
    if len(text) > MAX_LENGTH:
        raise BadUserInput(f"formula is longer than {MAX_LENGTH} characters", field="formula")
    parser = _Parser(text)
    node = parser.expr()
    extra = parser.peek()
    if extra is not None:
        raise BadUserInput(f"formula: unexpected {extra[1]!r}", field="formula")
    if len(metric_refs(node)) > MAX_METRICS:
        raise BadUserInput(f"formula: at most {MAX_METRICS} metrics", field="formula")
    return node


def _walk(node: Node) -> Iterator[MetricRef]:
    if isinstance(node, MetricRef):
        yield node
    elif isinstance(node, Negate):
        yield from _walk(node.operand)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)


def metric_refs(node: Node) -> list[MetricRef]:
    """The distinct metrics the formula reads, in order of appearance."""
    return list(dict.fromkeys(_walk(node)))


def transform(node: Node, fn: Callable[[MetricRef], MetricRef]) -> Node:
    """The same tree with every metric reference replaced by `fn(ref)`."""
    if isinstance(node, MetricRef):
        return fn(node)
    if isinstance(node, Negate):
        return Negate(transform(node.operand, fn))
    if isinstance(node, Binary):
        return Binary(node.op, transform(node.left, fn), transform(node.right, fn))
    return node


def evaluate(node: Node, values: Mapping[MetricRef, float | None]) -> float | None:
    """The formula's value given each metric's value; None when undefined."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, MetricRef):
        return values.get(node)
    if isinstance(node, Negate):
        inner = evaluate(node.operand, values)
        return None if inner is None else -inner
    left = evaluate(node.left, values)
    right = evaluate(node.right, values)
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
