"""Dashboard variables: `$name` (or `${name}`) in widget queries takes the chosen value.

A variable's value defaults to its `default`. An empty value means "all": a
label filter that became empty is dropped, so `{country: "$country"}` with no
country chosen reads every country. References to undeclared variables are
refused when the dashboard is saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from analytics_gateway.dashboards.model import Variable, WidgetQuery
from analytics_gateway.errors import BadUserInput

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE_LENGTH = 256
_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def references(text: str) -> set[str]:
    """Names of the variables `text` refers to."""
    return {m.group(1) or m.group(2) for m in _REF.finditer(text)}


def query_strings(query: WidgetQuery) -> Iterable[str]:
    """Every string of a widget query that variables may appear in."""
    yield query.name
    yield query.formula
    yield from query.labels.values()
    yield from query.group_by or ()


def check_declared(query: WidgetQuery, variables: Sequence[Variable]) -> None:
    declared = {v.name for v in variables}
    for text in query_strings(query):
        unknown = references(text) - declared
        if unknown:
            raise BadUserInput(
                f"query refers to undeclared variable(s): {', '.join(sorted(unknown))}",
                field="variables",
            )


def resolve(variables: Sequence[Variable], given: Mapping[str, Any] | None) -> dict[str, str]:
    """The value of every declared variable: given, else its default."""
    values = {v.name: v.default for v in variables}
    for name, value in (given or {}).items():
        if name not in values:
            raise BadUserInput(
                f"variables: this dashboard has no variable {name!r}", field="variables"
            )
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadUserInput(f"variables: {name!r} must be a string", field="variables")
        text = str(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise BadUserInput(
                f"variables: {name!r} is longer than {MAX_VALUE_LENGTH} characters",
                field="variables",
            )
        values[name] = text
    return values


def substitute(text: str, values: Mapping[str, str]) -> str:
    def value_of(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise BadUserInput(f"unknown variable ${name}", field="variables")
        return values[name]

    return _REF.sub(value_of, text)


def substitute_labels(labels: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """Labels with variables replaced; a filter that became empty means "all" and goes."""
    out: dict[str, str] = {}
    for key, raw in labels.items():
        value = substitute(raw, values)
        if value == "" and references(raw):
            continue
        out[key] = value
    return out


def apply(query: WidgetQuery, values: Mapping[str, str]) -> WidgetQuery:
    """The query with every variable replaced; a formula's are replaced in its parsed tree."""
    group_by = None
    if query.group_by is not None:
        group_by = tuple(g for g in (substitute(g, values) for g in query.group_by) if g)
    return replace(
        query,
        name=substitute(query.name, values),
        labels=substitute_labels(query.labels, values),
        group_by=group_by,
    )
