"""Scope any PromQL expression to one tenant, the way prom-label-proxy does.

A Prometheus holds every tenant's series side by side, told apart only by a
label (`tenant` by default). Before a query leaves the gateway, every vector
selector in it, wherever it sits (inside range selectors, subqueries,
function arguments, aggregation parameters, either side of `or`), gets the
matcher `<label>="<tenant>"`. Matchers are ANDed, so a selector so scoped can
only ever see that tenant's series.

The rewrite works on the syntax tree of `promql-parser`, never on the text:

* a selector that matches on the tenant label itself is refused unless the
  matcher is exactly `<label>="<caller's tenant>"` (a regex, a negation or
  another tenant is an attempt to read across tenants, so it is an error
  rather than silently overridden);
* what the gateway cannot scope is refused: `or` inside braces
  (`{a="1" or b="2"}`), `info()` (it reads `target_info` series that no
  selector names), fill modifiers, anything the parser knows and this module
  does not;
* queries past `MAX_QUERY_LENGTH`, `MAX_OPERATORS` or `MAX_NESTING` are
  refused before parsing: the parser's time grows with the square of an
  operator chain or a nesting (16 KiB of `up + up + ...` took 2 s, of
  `((((up))))` 14 s, all of it on the event loop);
* the query sent is the tree printed anew (comments and spelling are gone).
  That text is parsed again and its tree must equal the user's tree with the
  tenant matcher added to every selector, so a printing or escaping fault can
  only cause a refusal, never an unscoped or altered query.
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pp

from analytics_gateway.backends.promql_print import Matcher, Unprintable, matchers, to_text
from analytics_gateway.errors import BadUserInput

LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_QUERY_LENGTH = 16_384
MAX_OPERATORS = 100
MAX_NESTING = 64
MAX_DEPTH = 256  # of the tree; the two limits above keep it far lower

_OPERATORS = re.compile(r"==|!=|>=|<=|[-+*/%^<>]|\b(?:and|or|unless|atan2)\b")

# Functions that read series no selector of the query names.
_UNSCOPABLE_FUNCTIONS = frozenset({"info"})


def parse(query: str, *, field: str = "query") -> pp.Expr:
    """The syntax tree of `query`, or `BadUserInput` with the parser's message."""
    try:
        return pp.parse(query)
    except (ValueError, TypeError) as exc:
        raise BadUserInput(f"{field}: invalid PromQL: {exc}", field=field) from exc


def enforce_tenant(query: str, label: str, tenant: str, *, field: str = "query") -> str:
    """`query` with every selector scoped to `tenant`; `BadUserInput` if it cannot be."""
    if not LABEL_NAME_RE.match(label):
        raise ValueError(f"tenant label {label!r} is not a valid Prometheus label name")
    _check_size(query, field)
    scope = _Scope(label, tenant, field)
    tree = parse(query, field=field)
    wanted = scope.canonical(tree, add_tenant=True)
    try:
        text = to_text(tree, scope.matchers)
    except Unprintable as exc:
        raise scope.refuse(f"unsupported PromQL construct {exc}") from exc
    if scope.canonical(parse(text, field=field), add_tenant=False) != wanted:
        raise scope.refuse("this query cannot be scoped to your tenant")
    return text


def _check_size(query: str, field: str) -> None:
    """Refuse, in linear time, what would take the parser too long."""
    if len(query) > MAX_QUERY_LENGTH:
        raise BadUserInput(f"{field}: longer than {MAX_QUERY_LENGTH} characters", field=field)
    code = _code_of(query)
    if len(_OPERATORS.findall(code)) > MAX_OPERATORS:
        raise BadUserInput(f"{field}: more than {MAX_OPERATORS} operators", field=field)
    depth = 0
    for char in code:
        if char in "([":
            depth += 1
            if depth > MAX_NESTING:
                raise BadUserInput(f"{field}: nested deeper than {MAX_NESTING} levels", field=field)
        elif char in ")]":
            depth -= 1


def _code_of(query: str) -> str:
    """`query` less string literals, comments and selector braces, in one pass."""
    kept: list[str] = []
    i, end, in_braces = 0, len(query), False
    while i < end:
        char = query[i]
        if char in "\"'`":
            i += 1
            while i < end and query[i] != char:
                i += 2 if char != "`" and query[i] == "\\" else 1
        elif char == "#":
            newline = query.find("\n", i)
            i = end if newline < 0 else newline
        elif char in "{}":
            in_braces = char == "{"
        elif not in_braces:
            kept.append(char)
        i += 1
    return "".join(kept)


class _Scope:
    def __init__(self, label: str, tenant: str, field: str) -> None:
        self.label = label
        self.tenant = tenant
        self.field = field

    def refuse(self, reason: str) -> BadUserInput:
        return BadUserInput(f"{self.field}: {reason}", field=self.field)

    def matchers(self, node: pp.VectorSelector) -> list[Matcher]:
        """The selector's own matchers, less any on the tenant label, plus the tenant's."""
        own = [m for m in matchers(node) if m[0] != self.label]
        return [*own, (self.label, "=", self.tenant)]

    def canonical(self, node: Any, *, add_tenant: bool, depth: int = 0) -> Any:
        """A comparable form of the tree; refuses what cannot be scoped."""
        if depth > MAX_DEPTH:
            raise self.refuse(f"nested deeper than {MAX_DEPTH} levels")

        def sub(child: Any) -> Any:
            return self.canonical(child, add_tenant=add_tenant, depth=depth + 1)

        if isinstance(node, pp.VectorSelector):
            return ("selector", node.name, self._selector(node, add_tenant), *_mods(node))
        if isinstance(node, pp.MatrixSelector):
            return ("matrix", sub(node.vector_selector), node.range)
        if isinstance(node, pp.SubqueryExpr):
            return ("subquery", sub(node.expr), node.range, node.step, *_mods(node))
        if isinstance(node, pp.ParenExpr | pp.UnaryExpr):
            return (type(node).__name__, sub(node.expr))
        if isinstance(node, pp.BinaryExpr):
            return ("binary", str(node.op), self._binary(node), sub(node.lhs), sub(node.rhs))
        if isinstance(node, pp.AggregateExpr):
            grouping = None
            if node.modifier is not None:
                grouping = (str(node.modifier.type), self._labels(node.modifier.labels))
            param = None if node.param is None else sub(node.param)
            return ("aggregate", str(node.op), grouping, param, sub(node.expr))
        if isinstance(node, pp.Call):
            if node.func.name in _UNSCOPABLE_FUNCTIONS:
                raise self.refuse(f"the function {node.func.name}() is not supported")
            return ("call", node.func.name, *(sub(arg) for arg in node.args))
        if isinstance(node, pp.NumberLiteral):
            return ("number", repr(node.val))  # repr: NaN equals NaN
        if isinstance(node, pp.StringLiteral):
            return ("string", node.val)
        raise self.refuse(f"unsupported PromQL construct {type(node).__name__}")

    def _selector(self, node: pp.VectorSelector, add_tenant: bool) -> list[Matcher]:
        if node.matchers.or_matchers:
            raise self.refuse("`or` inside a selector's braces is not supported")
        own = matchers(node)
        for name, op, value in own:
            if name == self.label and (op, value) != ("=", self.tenant):
                raise self.refuse(
                    f"selectors may not match on the {self.label!r} label; "
                    "queries are scoped to your tenant"
                )
            self._labels([name])
        if add_tenant:
            own = self.matchers(node)
        return sorted(own)

    def _binary(self, node: pp.BinaryExpr) -> Any:
        modifier = node.modifier
        if modifier is None:
            return None
        fill = modifier.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise self.refuse("fill modifiers are not supported")
        matching = None
        if modifier.matching is not None:
            labels = self._labels(modifier.matching.labels)
            matching = (str(modifier.matching.type), labels)
        group = self._labels(modifier.group_labels or [])
        return (str(modifier.card), modifier.return_bool, matching, group)

    def _labels(self, names: list[str]) -> list[str]:
        for name in names:
            if not LABEL_NAME_RE.match(name):
                raise self.refuse(f"cannot scope label name {name!r}")
        return list(names)


def _mods(node: Any) -> tuple[Any, ...]:
    at = node.at
    return (node.offset, None if at is None else (str(at.type), at.at))
