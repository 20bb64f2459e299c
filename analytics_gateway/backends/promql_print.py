"""Print a `promql-parser` syntax tree back to PromQL, token for token.

The library's own printers do not fit: `str()` leaves quotes in strings
unescaped, and `prettify()` and `transform()` take time and space that grow
much faster than the query (seconds for a few hundred operators). This
printer is linear, writes exactly the tokens the tree came from (the tree
keeps parentheses as `ParenExpr`), and lets the caller choose the matchers of
every selector, which is how the tenant matcher gets in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import promql_parser as pp

Matcher = tuple[str, str, str]  # (label, operator text, value)
MatchersOf = Callable[[pp.VectorSelector], list[Matcher]]

# (MatchOp is not hashable, so no dict)
_OPERATORS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)


class Unprintable(ValueError):
    """The tree holds something this printer does not know how to write."""


def operator(op: Any) -> str:
    return next(text for known, text in _OPERATORS if known == op)


def matchers(node: pp.VectorSelector) -> list[Matcher]:
    return [(m.name, operator(m.op), m.value) for m in node.matchers.matchers]


def quote(value: str) -> str:
    """A PromQL string literal holding exactly `value`."""
    return json.dumps(value, ensure_ascii=False)


def duration(value: timedelta) -> str:
    if value < timedelta(0):
        return "-" + pp.display_duration(-value)
    return str(pp.display_duration(value))


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    text = repr(value)
    return text.removesuffix(".0")


def to_text(node: Any, matchers_of: MatchersOf = matchers) -> str:
    """PromQL for `node`; `matchers_of` gives each selector's matchers."""
    parts: list[str] = []
    _write(node, matchers_of, parts)
    return "".join(parts)


def _write(node: Any, matchers_of: MatchersOf, out: list[str]) -> None:
    if isinstance(node, pp.VectorSelector):
        out.append(_selector(node, matchers_of) + _modifiers(node.offset, node.at))
    elif isinstance(node, pp.MatrixSelector):
        vs = node.vector_selector
        out.append(_selector(vs, matchers_of))
        out.append(f"[{duration(node.range)}]{_modifiers(vs.offset, vs.at)}")
    elif isinstance(node, pp.SubqueryExpr):
        if node.range is None:
            raise Unprintable("subquery without a range")
        _write(node.expr, matchers_of, out)
        step = duration(node.step) if node.step is not None else ""
        out.append(f"[{duration(node.range)}:{step}]{_modifiers(node.offset, node.at)}")
    elif isinstance(node, pp.ParenExpr):
        out.append("(")
        _write(node.expr, matchers_of, out)
        out.append(")")
    elif isinstance(node, pp.UnaryExpr):
        inner = to_text(node.expr, matchers_of)
        out.append("- " + inner if inner.startswith("-") else "-" + inner)
    elif isinstance(node, pp.BinaryExpr):
        _write(node.lhs, matchers_of, out)
        out.append(f" {node.op}{_binary_modifier(node.modifier)} ")
        _write(node.rhs, matchers_of, out)
    elif isinstance(node, pp.AggregateExpr):
        out.append(str(node.op))
        if node.modifier is not None:
            word = "by" if node.modifier.type == pp.AggModifierType.By else "without"
            out.append(f" {word} ({', '.join(node.modifier.labels)}) ")
        out.append("(")
        if node.param is not None:
            _write(node.param, matchers_of, out)
            out.append(", ")
        _write(node.expr, matchers_of, out)
        out.append(")")
    elif isinstance(node, pp.Call):
        out.append(f"{node.func.name}(")
        for i, arg in enumerate(node.args):
            if i:
                out.append(", ")
            _write(arg, matchers_of, out)
        out.append(")")
    elif isinstance(node, pp.NumberLiteral):
        out.append(number(node.val))
    elif isinstance(node, pp.StringLiteral):
        out.append(quote(node.val))
    else:
        raise Unprintable(type(node).__name__)


def _selector(node: pp.VectorSelector, matchers_of: MatchersOf) -> str:
    inner = ",".join(f"{name}{op}{quote(value)}" for name, op, value in matchers_of(node))
    return f"{node.name or ''}{{{inner}}}"


def _modifiers(offset: timedelta | None, at: pp.AtModifier | None) -> str:
    text = ""
    if at is not None:
        if at.type == pp.AtModifierType.Start:
            text += " @ start()"
        elif at.type == pp.AtModifierType.End:
            text += " @ end()"
        elif at.at is not None:
            text += f" @ {at.at.astimezone(UTC).timestamp():.3f}"
        else:
            raise Unprintable("@ without a time")
    if offset is not None:
        text += f" offset {duration(offset)}"
    return text


def _binary_modifier(modifier: pp.BinModifier | None) -> str:
    if modifier is None:
        return ""
    text = " bool" if modifier.return_bool else ""
    if modifier.matching is not None:
        word = "on" if modifier.matching.type == pp.LabelModifierType.Include else "ignoring"
        text += f" {word}({', '.join(modifier.matching.labels)})"
    group = ", ".join(modifier.group_labels or [])
    if modifier.card == pp.VectorMatchCardinality.ManyToOne:
        text += f" group_left({group})"
    elif modifier.card == pp.VectorMatchCardinality.OneToMany:
        text += f" group_right({group})"
    return text
