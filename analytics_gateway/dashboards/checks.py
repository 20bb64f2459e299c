"""Checks a dashboard definition before it is saved, so a stored dashboard always plans.

Names that hold no variable are checked now; names with variables are checked
again once substituted, when the data is read.
"""

from __future__ import annotations

import math
import re

from analytics_gateway.dashboards import formula, variables
from analytics_gateway.dashboards.model import (
    MAX_THRESHOLDS,
    MAX_TITLE,
    MAX_VARIABLES,
    MAX_WIDGETS,
    PANEL_TYPES,
    THRESHOLD_COLORS,
    UNITS,
    DashboardSpec,
    QueryKind,
    Threshold,
    Variable,
    Widget,
    WidgetQuery,
    WidgetType,
)
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput
from analytics_gateway.validation import LABEL_KEY_RE, NAME_RE

ALLOWED_KINDS = {
    WidgetType.KPI: {QueryKind.METRIC, QueryKind.EVENTS, QueryKind.FORMULA, QueryKind.KPI},
    WidgetType.CHART: {QueryKind.METRIC, QueryKind.EVENTS, QueryKind.FORMULA},
    WidgetType.HEATMAP: {QueryKind.METRIC, QueryKind.EVENTS},
    WidgetType.TABLE: {QueryKind.METRIC, QueryKind.EVENTS},
    WidgetType.ALERTS: {QueryKind.METRIC},
    WidgetType.ANOMALIES: {QueryKind.METRIC},
    WidgetType.FORECAST: {QueryKind.METRIC},
}
MAX_RANGE_MS = 366 * 86_400_000
KPI_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PANEL_SETTINGS = frozenset({"unit", "thresholds"})


def check_spec(spec: DashboardSpec) -> DashboardSpec:
    if not spec.name.strip() or len(spec.name) > MAX_TITLE:
        raise BadUserInput(f"name must be 1 to {MAX_TITLE} characters", field="name")
    _duration(spec.time_range, "timeRange")
    _check_variables(spec.variables)
    if len(spec.widgets) > MAX_WIDGETS:
        raise BadUserInput(f"a dashboard holds at most {MAX_WIDGETS} widgets", field="widgets")
    ids = [w.id for w in spec.widgets]
    if len(set(ids)) != len(ids):
        raise BadUserInput("widget ids must be unique", field="widgets")
    for index, widget in enumerate(spec.widgets):
        try:
            _check_widget(widget, spec.variables)
        except BadUserInput as exc:
            # a panel setting names itself; anything else is reported on `widgets`
            given = exc.extensions.get("field")
            field = given if given in PANEL_SETTINGS else "widgets"
            raise BadUserInput(f"widget {index} ({widget.title!r}): {exc.message}",
                               field=field, index=index) from None  # fmt: skip
    return spec


def _duration(text: str, field: str) -> int:
    value = parse_duration_ms(text, field=field)
    if value > MAX_RANGE_MS:
        raise BadUserInput(f"{field}: at most 366d", field=field)
    return value


def _check_variables(declared: tuple[Variable, ...]) -> None:
    if len(declared) > MAX_VARIABLES:
        raise BadUserInput(f"at most {MAX_VARIABLES} variables", field="variables")
    names = [v.name for v in declared]
    if len(set(names)) != len(names):
        raise BadUserInput("variable names must be unique", field="variables")
    for v in declared:
        if not variables.NAME_RE.match(v.name):
            raise BadUserInput(f"variables: {v.name!r} is not a valid name", field="variables")
        if len(v.default) > variables.MAX_VALUE_LENGTH or len(v.options) > 1000:
            raise BadUserInput(
                f"variables: {v.name!r} default or options too long", field="variables"
            )
        if (v.options_metric is None) != (v.options_label is None):
            raise BadUserInput(
                f"variables: {v.name!r} needs both optionsMetric and optionsLabel, or neither",
                field="variables",
            )
        if v.options_metric is not None and not NAME_RE.match(v.options_metric):
            raise BadUserInput(
                f"variables: bad optionsMetric {v.options_metric!r}", field="variables"
            )


def _check_widget(widget: Widget, declared: tuple[Variable, ...]) -> None:
    if len(widget.title) > MAX_TITLE:
        raise BadUserInput(f"title is longer than {MAX_TITLE} characters", field="title")
    if not widget.id or len(widget.id) > 64:
        raise BadUserInput("id must be 1 to 64 characters", field="id")
    widget.position.validate()
    if widget.unit is not None and widget.unit not in UNITS:
        raise BadUserInput(f"unit: {widget.unit!r} is not one of {', '.join(UNITS)}", field="unit")
    _check_thresholds(widget.thresholds)
    query = widget.query
    if query is None:
        if widget.type not in PANEL_TYPES:
            raise BadUserInput(f"a {widget.type.name} widget needs a query", field="query")
        return
    if query.kind not in ALLOWED_KINDS[widget.type]:
        raise BadUserInput(
            f"a {widget.type.name} widget cannot show a {query.kind.name} query", field="query"
        )
    variables.check_declared(query, declared)
    _check_query(query)


def _check_thresholds(thresholds: tuple[Threshold, ...]) -> None:
    if len(thresholds) > MAX_THRESHOLDS:
        raise BadUserInput(f"thresholds: at most {MAX_THRESHOLDS}", field="thresholds")
    for t in thresholds:
        if t.color not in THRESHOLD_COLORS:
            raise BadUserInput(
                f"thresholds: color {t.color!r} is not one of {', '.join(THRESHOLD_COLORS)}",
                field="thresholds",
            )
        if not math.isfinite(t.value):
            raise BadUserInput("thresholds: every value must be a finite number",
                               field="thresholds")  # fmt: skip
    values = [t.value for t in thresholds]
    if len(set(values)) != len(values):
        raise BadUserInput("thresholds: values must differ", field="thresholds")


def _name(text: str, what: str) -> None:
    if not variables.references(text) and not NAME_RE.match(text):
        raise BadUserInput(f"{what}: {text!r} is not a valid name", field="query")


def _check_query(query: WidgetQuery) -> None:
    if query.step is not None:
        _duration(query.step, "step")
    if query.last is not None:
        _duration(query.last, "last")
    for key in query.labels:
        if not LABEL_KEY_RE.match(key):
            raise BadUserInput(f"labels: {key!r} is not a valid label name", field="labels")
    for key in query.group_by or ():
        if not key or len(key) > 128:
            raise BadUserInput(f"groupBy: invalid label name {key!r}", field="groupBy")
    if query.kind is QueryKind.KPI:
        if not KPI_ID_RE.match(query.kpi_id):
            raise BadUserInput(f"kpi: {query.kpi_id!r} is not a KPI id", field="query")
        return
    if query.kind is QueryKind.FORMULA:
        for ref in formula.metric_refs(formula.parse(query.formula)):
            _name(ref.name, "formula metric")
        return
    _name(query.name, "event type" if query.kind is QueryKind.EVENTS else "metric")
    if query.kind is QueryKind.EVENTS and len(query.group_by or ()) > 1:
        raise BadUserInput("events can be grouped by one metadata field only", field="groupBy")
