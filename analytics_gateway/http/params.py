"""Reading REST query parameters and JSON bodies by their GraphQL argument names.

A query string gives text and a JSON body typed values; both are read here, so a
value of the wrong kind is refused as BAD_USER_INPUT naming the argument, and
enums take their GraphQL value names (any case), as GraphQL would take them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from analytics_gateway.errors import BadUserInput

E = TypeVar("E", bound=Enum)


def iso(ms: int) -> str:
    """An instant as the GraphQL `DateTime` scalar writes it."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise BadUserInput(f"{name}: must be a string", field=name)
    return value


def required(params: Mapping[str, Any], name: str) -> str:
    value = text(params, name)
    if value is None:
        raise BadUserInput(f"{name}: required", field=name)
    return value


def integer(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool | float):
        raise BadUserInput(f"{name}: must be an integer", field=name)
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadUserInput(f"{name}: must be an integer", field=name) from None


def optional_integer(params: Mapping[str, Any], name: str) -> int | None:
    return None if params.get(name) is None else integer(params, name, 0)


def number(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadUserInput(f"{name}: must be a number", field=name)
    return float(value)


def moment(params: Mapping[str, Any], name: str) -> datetime | None:
    value = text(params, name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadUserInput(f"{name}: must be an ISO-8601 date-time", field=name) from None


def time_span(params: Mapping[str, Any]) -> tuple[str | None, datetime | None, datetime | None]:
    """`last`, `from` and `to`, as the range arguments of the GraphQL fields."""
    return text(params, "last"), moment(params, "from"), moment(params, "to")


def choice(params: Mapping[str, Any], name: str, enum: type[E], default: E | None) -> E:
    """A GraphQL enum argument by its value name; `default` when absent (None: required)."""
    value = text(params, name)
    if value is None:
        if default is None:
            raise BadUserInput(f"{name}: required", field=name)
        return default
    try:
        return enum[value.upper()]
    except KeyError:
        names = ", ".join(enum.__members__)
        raise BadUserInput(f"{name}: must be one of {names}", field=name) from None


def strings(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A list of strings in a JSON body."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadUserInput(f"{name}: must be a list of strings", field=name)
    return value


def only(body: Mapping[str, Any], known: set[str]) -> None:
    """Refuse keys the GraphQL input does not have (a misspelt argument is not ignored)."""
    unknown = set(body) - known
    if unknown:
        raise BadUserInput(f"unknown field(s): {', '.join(sorted(unknown))}")
