"""Dashboard definitions from REST JSON bodies, checked field by field.

    {"name": "Executive Dashboard", "layout": "grid", "timeRange": "1h",
     "components": [{"type": "chart", "data": "daily_revenue"},
                    {"type": "kpi", "metric": "active_users"},
                    {"type": "heatmap", "data": "user_activity"}],
     "variables": [{"name": "country", "optionsMetric": "song_plays",
                    "optionsLabel": "country"}]}

A component may also carry `"unit": "percent"` and `"thresholds": [{"value":
0.05, "color": "red"}]`. Or, for a dashboard of presets, {"widgets":
["system_health", "revenue"]}, or a dashboard as `GET /analytics/dashboards/{id}`
returns it ("widgets" a list of objects, units and thresholds included), so one
can be copied by posting what was read.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from analytics_gateway.dashboards import catalogue
from analytics_gateway.dashboards.compose import Component, widgets
from analytics_gateway.dashboards.model import (
    ChartStyle,
    DashboardSpec,
    Layout,
    Position,
    QueryKind,
    Threshold,
    Variable,
    WidgetQuery,
    WidgetType,
)
from analytics_gateway.domain import Aggregation, MetricSource
from analytics_gateway.errors import BadUserInput

E = TypeVar("E", bound=enum.Enum)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadUserInput(f"{what} must be a JSON object", field=what)
    return value


def _text(doc: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = doc.get(key, default)
    if value is not None and not isinstance(value, str):
        raise BadUserInput(f"{key} must be a string", field=key)
    return value


def _enum(kind: type[E], value: Any, key: str) -> E | None:
    if value is None:
        return None
    try:
        return kind(str(value).lower())
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise BadUserInput(f"{key}: {value!r} is not one of {allowed}", field=key) from None


def _strings(value: Any, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadUserInput(f"{key} must be a list of strings", field=key)
    return tuple(value)


def _labels(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    labels = _object(value, "labels")
    if not all(isinstance(v, str) for v in labels.values()):
        raise BadUserInput("labels must map label names to strings", field="labels")
    return dict(labels)


def _metric_query(doc: Mapping[str, Any]) -> WidgetQuery:
    return WidgetQuery(
        QueryKind.METRIC,
        name=_text(doc, "name") or "",
        labels=_labels(doc.get("labels")) or {},
        aggregation=_enum(Aggregation, doc.get("aggregation"), "aggregation"),
        step=_text(doc, "step"),
        group_by=_strings(doc.get("groupBy"), "groupBy"),
        last=_text(doc, "last"),
        source=_enum(MetricSource, doc.get("source"), "source") or MetricSource.STORE,
    )


def _events_query(doc: Mapping[str, Any]) -> WidgetQuery:
    group_by = _text(doc, "groupBy")
    return WidgetQuery(
        QueryKind.EVENTS,
        name=_text(doc, "type") or "",
        step=_text(doc, "step"),
        group_by=(group_by,) if group_by else None,
        last=_text(doc, "last"),
    )


def _thresholds(value: Any) -> tuple[Threshold, ...]:
    """Checked here for shape only (colours and values are `checks`'), so a malformed
    list is named `thresholds`, not reported as a broken widget."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadUserInput("thresholds must be a list of {value, color}", field="thresholds")
    out: list[Threshold] = []
    for item in value:
        doc = _object(item, "thresholds")
        number, color = doc.get("value"), doc.get("color")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise BadUserInput("thresholds: every value must be a number", field="thresholds")
        if not isinstance(color, str):
            raise BadUserInput("thresholds: every color must be a string", field="thresholds")
        out.append(Threshold(float(number), color))
    return tuple(out)


def _position(value: Any) -> Position | None:
    if value is None:
        return None
    doc = _object(value, "position")
    try:
        return Position(*(int(doc[k]) for k in ("x", "y", "w", "h")))
    except (KeyError, TypeError, ValueError):
        raise BadUserInput("position needs integer x, y, w and h", field="position") from None


def component(value: Any) -> Component:
    doc = _object(value, "component")
    widget_type = _enum(WidgetType, doc.get("type"), "type")
    if widget_type is None:
        raise BadUserInput("every component needs a type", field="type")
    query = doc.get("query")
    events = doc.get("events")
    return Component(
        type=widget_type,
        id=_text(doc, "id"),
        title=_text(doc, "title"),
        position=_position(doc.get("position")),
        style=_enum(ChartStyle, doc.get("style"), "style"),
        data=_text(doc, "data"),
        metric=_text(doc, "metric"),
        formula=_text(doc, "formula"),
        query=_metric_query(_object(query, "query")) if query is not None else None,
        events=_events_query(_object(events, "events")) if events is not None else None,
        aggregation=_enum(Aggregation, doc.get("aggregation"), "aggregation"),
        labels=_labels(doc.get("labels")),
        group_by=_strings(doc.get("groupBy"), "groupBy"),
        step=_text(doc, "step"),
        last=_text(doc, "last"),
        unit=_text(doc, "unit"),
        thresholds=_thresholds(doc.get("thresholds")),
        kpi=_text(doc, "kpi"),
    )


def _variable(value: Any) -> Variable:
    doc = _object(value, "variable")
    return Variable(
        name=_text(doc, "name") or "",
        label=_text(doc, "label") or "",
        default=_text(doc, "default") or "",
        options=_strings(doc.get("options"), "options") or (),
        options_metric=_text(doc, "optionsMetric"),
        options_label=_text(doc, "optionsLabel"),
    )


def _document(doc: Mapping[str, Any]) -> DashboardSpec:
    """A dashboard as `GET /analytics/dashboards/{id}` returns it (and GraphQL's
    `definition`): full widgets with ids and positions, so what REST gives can be
    posted back as it is (its `id`, `version`, `updatedAt` and widget data ignored)."""
    for widget in doc.get("widgets") or ():
        _text(widget, "unit")
        _thresholds(widget.get("thresholds"))
    try:
        return DashboardSpec.from_document({**doc, "name": _text(doc, "name") or ""})
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BadUserInput(
            f"widgets: not a dashboard as GET /analytics/dashboards/{{id}} returns it ({detail})",
            field="widgets",
        ) from None


def spec(body: Any) -> DashboardSpec:
    doc = _object(body, "body")
    presets = doc.get("widgets")
    if isinstance(presets, list) and presets and all(isinstance(w, Mapping) for w in presets):
        return _document(doc)
    if presets is not None and "components" not in doc:
        names = _strings(presets, "widgets")
        return catalogue.realtime_spec(list(names or ()), _text(doc, "name"))
    components = doc.get("components")
    if not isinstance(components, list):
        raise BadUserInput(
            'give "components" (a list of widgets) or "widgets" (a list of preset names)',
            field="components",
        )
    return DashboardSpec(
        name=_text(doc, "name") or "",
        widgets=widgets([component(c) for c in components]),
        layout=_enum(Layout, doc.get("layout"), "layout") or Layout.GRID,
        time_range=_text(doc, "timeRange", "1h") or "1h",
        variables=tuple(_variable(v) for v in doc.get("variables") or ()),
    )
