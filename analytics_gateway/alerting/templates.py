"""Annotation templates: `{{ $value }}` and `{{ $labels.host }}`, nothing else.

A deliberately tiny language (no expressions, no loops), checked when a rule
is saved so a typo is reported with its position instead of at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from analytics_gateway.errors import BadUserInput

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_FIELD = re.compile(r"^\$(value|labels\.([A-Za-z_][A-Za-z0-9_]*)|name|severity|state)$")


def check_template(name: str, text: str) -> None:
    """Raise `BadUserInput` naming the annotation and column of an unknown placeholder."""
    for match in _PLACEHOLDER.finditer(text):
        if not _FIELD.match(match.group(1)):
            raise BadUserInput(
                f"annotations.{name}: unknown placeholder {match.group(0)!r} at column "
                f"{match.start() + 1}; use {{{{ $value }}}}, {{{{ $labels.<label> }}}}, "
                "{{ $name }}, {{ $severity }} or {{ $state }}",
                field=f"annotations.{name}",
                column=match.start() + 1,
            )
    if "{{" in _PLACEHOLDER.sub("", text):
        column = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text).index("{{") + 1
        raise BadUserInput(
            f"annotations.{name}: '{{{{' without a closing '}}}}' at column {column}",
            field=f"annotations.{name}",
            column=column,
        )


def format_value(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.6g}"


def render(
    text: str,
    *,
    value: float | None,
    labels: Mapping[str, str],
    name: str,
    severity: str,
    state: str,
) -> str:
    def fill(match: re.Match[str]) -> str:
        field = _FIELD.match(match.group(1))
        if field is None:
            return match.group(0)
        if field.group(2) is not None:
            return labels.get(field.group(2), "")
        kind = field.group(1)
        if kind == "value":
            return format_value(value)
        return {"name": name, "severity": severity, "state": state}[kind]

    return _PLACEHOLDER.sub(fill, text)


def render_all(
    annotations: Mapping[str, str],
    *,
    value: float | None,
    labels: Mapping[str, str],
    name: str,
    severity: str,
    state: str,
) -> dict[str, str]:
    return {
        key: render(text, value=value, labels=labels, name=name, severity=severity, state=state)
        for key, text in annotations.items()
    }
