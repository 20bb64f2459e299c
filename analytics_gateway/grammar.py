"""The one expression grammar: alert conditions and dashboard formulas.

One Lark grammar (LALR, contextual lexer, positions kept) with two start rules:

    condition   error_rate > 0.05 and avg(cpu_usage{host="a"}[5m]) > 90
    formula     revenue / active_users      plays{country="$country"} * 2

Both share numbers, `+ - * /`, parentheses, metric selectors with label
matchers, windows and function calls (of a metric, `avg(cpu[5m])`, or of a
quoted string, `events("song_play")`); a condition adds comparisons,
`and`/`or`/`not` and `outside band(...)` on top. Each language builds its own
AST from the parse tree (`alerting.expr` for conditions, `dashboards.formula`
for formulas) and refuses, with a message of its own, what it does not take:
a condition takes no `$variables` and no string calls, a formula no functions
but `events("type")`, windows, comparisons, or label matchers other than `=`.

Metric names follow `analytics_gateway.names`, so they may contain `-`: `a-b`
is the metric `a-b`, and subtraction after a name needs a space before the
minus sign (`a - b`, `a -b`). A name in an expression may not end with `-`
(`a- b` is refused, saying to write `a - b`). A name may hold dashboard
variables, `$var` or `${var}` (`cpu_$host`); conditions refuse them.

Nesting (parentheses, unary minus, `not`) is limited to `MAX_DEPTH` levels, and
the trees are transformed without recursion, so no expression within the length
limits can exhaust the interpreter's stack.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from analytics_gateway.names import NAME_CHARS, NAME_START, SUBTRACTION_HINT

Start = Literal["condition", "formula"]

MAX_DEPTH = 32
"""Levels of parentheses, unary minus and `not` an expression may nest."""

_VARIABLE = r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)"
"""A dashboard variable in a name: `$host` or `${host}` (see dashboards.variables)."""

NAME_PATTERN = rf"(?:[{NAME_START}]|{_VARIABLE})(?:[{NAME_CHARS}]|{_VARIABLE})*"
"""A name token: the metric name characters of `names`, and variables anywhere."""

GRAMMAR = rf"""
?condition: disj
?formula: sum

?disj: conj | disj OR conj -> logic
?conj: neg | conj AND neg -> logic
?neg: NOT neg -> negation | comparison
?comparison: sum | sum CMP sum -> compare | sum OUTSIDE band -> outside
band: BAND "(" DURATION ("," band_arg)* ")"
band_arg: NAME "=" NAME
?sum: product | sum PLUS product -> arith | sum MINUS product -> arith
?product: unary | product TIMES unary -> arith | product DIVIDE unary -> arith
?unary: atom | MINUS unary -> minus
?atom: NUMBER -> number | selector | call | string_call | "(" disj ")" -> paren
call: NAME "(" NAME matchers? window? ")"
string_call: NAME "(" STRING ")"
selector: NAME matchers? window?
matchers: "{{" [matcher ("," matcher)*] "}}"
matcher: NAME MATCH_OP STRING
window: "[" DURATION "]"

OR: "or"
AND: "and"
NOT: "not"
OUTSIDE: "outside"
BAND: "band"
CMP: ">=" | "<=" | "==" | "!=" | ">" | "<"
MATCH_OP: "=~" | "!~" | "!=" | "="
PLUS: "+"
MINUS: "-"
TIMES: "*"
DIVIDE: "/"
NAME: /{NAME_PATTERN}/
NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
DURATION: /\d+(\.\d+)?(ms|s|m|h|d|w)/
STRING: /"([^"\\]|\\.)*"/
%ignore /\s+/
"""

NESTING = frozenset({"paren", "minus", "negation"})
"""Parse tree nodes that count as a level of nesting."""

CONDITION_ONLY = frozenset({"CMP", "AND", "OR", "NOT", "OUTSIDE"})
"""Tokens that only a condition takes; a formula that meets one is told so."""

FORMULA_COMPUTES = (
    "comparisons and 'and', 'or', 'not', 'outside' belong in alert conditions; "
    "a formula computes a value"
)

_READABLE = {
    "OR": "'or'",
    "AND": "'and'",
    "NOT": "'not'",
    "OUTSIDE": "'outside'",
    "BAND": "'band'",
    "CMP": "a comparison (> >= < <= == !=)",
    "MATCH_OP": "a label matcher (= != =~ !~)",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "TIMES": "'*'",
    "DIVIDE": "'/'",
    "NAME": "a name",
    "NUMBER": "a number",
    "DURATION": "a duration (e.g. 5m)",
    "STRING": 'a quoted string (e.g. "a")',
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
    "$END": "the end",
}
_READABLE_IN: dict[Start, dict[str, str]] = {
    "condition": _READABLE,
    "formula": {**_READABLE, "STRING": 'a quoted value (e.g. "a")'},
}


class ExpressionError(Exception):
    """What is wrong with an expression and the column (1-based) where it is."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message, column)
        self.message = message
        self.column = column


def _name_token(token: Token) -> Token:
    """Every name, as it is lexed: one ending in '-' was almost surely a subtraction."""
    if token.endswith("-"):
        raise ExpressionError(
            f"{str(token)!r} cannot end with '-': {SUBTRACTION_HINT}", token.column or 1
        )
    return token


PARSER = Lark(
    GRAMMAR,
    start=["condition", "formula"],
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
    lexer_callbacks={"NAME": _name_token},
)


def parse(source: str, start: Start) -> Tree[Token]:
    """The parse tree of `source` as a `start`; `ExpressionError` if it does not parse
    or nests more than `MAX_DEPTH` levels deep."""
    try:
        tree = PARSER.parse(source, start=start)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, start) from None
    _check_depth(tree)
    return tree


def _check_depth(tree: Tree[Token]) -> None:
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if node.data in NESTING:
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(
                    f"nested too deeply (at most {MAX_DEPTH} levels of parentheses and signs)",
                    column_of(node),
                )
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


def column_of(tree: Tree[Token]) -> int:
    return getattr(tree.meta, "column", 1)


def variable_names(tree: Tree[Token]) -> list[Token]:
    """The name tokens holding a dashboard variable, in order of appearance."""
    found = [
        child
        for node in tree.iter_subtrees()  # iterative: long chains of + make deep trees
        for child in node.children
        if isinstance(child, Token) and child.type == "NAME" and "$" in child
    ]
    return sorted(found, key=lambda t: t.start_pos or 0)


_ESCAPE = re.compile(
    r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|N\{[^}]*\}|[0-7]{1,3}|[\\'\"abfnrtv\n])"
)


def unquote(token: Token) -> str:
    """The text of a STRING token: Python's backslash escapes (`\\"`, `\\\\`, `\\n`,
    `\\x41`, ...) decoded, any other backslash kept as written (so `"\\d+"` is the
    regular expression `\\d+`), and every other character as it is."""

    def decode(match: re.Match[str]) -> str:
        try:
            return codecs.decode(match.group(0), "unicode_escape")
        except UnicodeDecodeError:
            raise ExpressionError(
                f"invalid escape {match.group(0)!r} in a string", token.column or 1
            ) from None

    return _ESCAPE.sub(decode, str(token)[1:-1])


def _describe(token: Token | None, start: Start) -> str:
    if token is None or token.type == "$END":
        return f"end of {start}"
    return repr(str(token))


def _expected(names: set[str], start: Start) -> str:
    if start == "formula":  # what parentheses may hold in a formula is narrower than disj
        names = names - CONDITION_ONLY
    readable_names = _READABLE_IN[start]
    readable = sorted({readable_names.get(n, n.lower()) for n in names})
    if len(readable) > 6:
        readable = [*readable[:6], "..."]
    return ", ".join(readable)


def _syntax_error(exc: UnexpectedInput, source: str, start: Start) -> ExpressionError:
    column = getattr(exc, "column", None) or len(source) + 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = source[pos] if pos < len(source) else ""
        expected = _expected(set(exc.allowed or ()), start)
        return ExpressionError(f"unexpected character {char!r}; expected {expected}", column)
    if isinstance(exc, UnexpectedToken):
        found = _describe(exc.token, start)
        if exc.token.type == "$END":
            column = len(source) + 1
        if start == "formula" and exc.token.type in CONDITION_ONLY:
            return ExpressionError(f"unexpected {found}: {FORMULA_COMPUTES}", column)
        return ExpressionError(
            f"unexpected {found}; expected {_expected(set(exc.expected), start)}", column
        )
    if isinstance(exc, UnexpectedEOF):
        return ExpressionError(
            f"unexpected end; expected {_expected(set(exc.expected), start)}", len(source) + 1
        )
    return ExpressionError("cannot parse", column)


__all__ = [
    "FORMULA_COMPUTES",
    "GRAMMAR",
    "MAX_DEPTH",
    "NAME_PATTERN",
    "PARSER",
    "ExpressionError",
    "Start",
    "column_of",
    "parse",
    "unquote",
    "variable_names",
]
