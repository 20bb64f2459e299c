"""Python-side values (brief-style strings and dicts) into the generated input models."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from analytics_gateway_client.generated.enums import Aggregation, ChartStyle, WidgetType
from analytics_gateway_client.generated.input_types import (
    EventCountQueryInput,
    MetricQuery,
    WidgetInput,
)

E = TypeVar("E", bound=Enum)


def enum_of(cls: type[E], value: E | str) -> E:
    """`value` as a member of `cls`; strings match names case-insensitively ("critical")."""
    if isinstance(value, cls):
        return value
    name = str(value).strip().upper().replace("-", "_")
    try:
        return cls[name]
    except KeyError:
        choices = ", ".join(member.name.lower() for member in cls)
        raise ValueError(f"{value!r} is not a {cls.__name__}: use one of {choices}") from None


def optional_enum(cls: type[E], value: E | str | None) -> E | None:
    return None if value is None else enum_of(cls, value)


def camel(name: str) -> str:
    """`group_by` -> `groupBy`; names already in camelCase stay as they are."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _fields(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def camel_keys(
    model: type[BaseModel], values: Mapping[str, Any], enums: Mapping[str, type[Enum]]
) -> dict[str, Any]:
    """`values` with the GraphQL field names of `model` (snake_case accepted, `from_` too),
    enum fields read with `enum_of`; a key the input does not have is a `ValueError`."""
    known = _fields(model)
    result: dict[str, Any] = {}
    for key, value in values.items():
        name = camel(key.rstrip("_"))
        if name not in known:
            raise ValueError(
                f"{model.__name__} has no field {key!r}; it has {', '.join(sorted(known))}"
            )
        enum = enums.get(name)
        result[name] = enum_of(enum, value) if enum is not None and value is not None else value
    return result


_QUERY_ENUMS: dict[str, type[Enum]] = {"aggregation": Aggregation}
_WIDGET_ENUMS: dict[str, type[Enum]] = {
    "type": WidgetType,
    "style": ChartStyle,
    "aggregation": Aggregation,
}


def widget_input(component: WidgetInput | Mapping[str, Any]) -> WidgetInput:
    """A dashboard component: a `WidgetInput`, or a dict in the brief's style,
    e.g. `{"type": "chart", "data": "daily_revenue"}`; a nested `query` may be a dict."""
    if isinstance(component, WidgetInput):
        return component
    values = camel_keys(WidgetInput, component, _WIDGET_ENUMS)
    query = values.get("query")
    if isinstance(query, Mapping):
        values["query"] = camel_keys(MetricQuery, query, _QUERY_ENUMS)
    events = values.get("events")
    if isinstance(events, Mapping):
        values["events"] = camel_keys(EventCountQueryInput, events, {})
    return WidgetInput.model_validate(values)


def labels_of(labels: Mapping[str, object] | None) -> dict[str, str] | None:
    """Label values as the gateway stores them: strings."""
    if labels is None:
        return None
    return {str(name): str(value) for name, value in labels.items()}
