"""Checks a KPI definition before it is saved, so a stored KPI always evaluates."""

from __future__ import annotations

import math

from analytics_gateway.dashboards import formula
from analytics_gateway.dashboards.model import MAX_TITLE, UNITS
from analytics_gateway.errors import BadUserInput
from analytics_gateway.kpis.model import KpiSpec
from analytics_gateway.validation import LABEL_KEY_RE, NAME_RE

MAX_KPIS = 100
"""KPIs one tenant may hold."""
MAX_DESCRIPTION = 1000
MAX_LABELS = 10
MAX_LABEL_VALUE = 256


def check_spec(spec: KpiSpec) -> formula.Node:
    """The parsed formula of a valid definition; `BadUserInput` naming the field otherwise."""
    if not spec.name.strip() or len(spec.name) > MAX_TITLE:
        raise BadUserInput(f"name must be 1 to {MAX_TITLE} characters", field="name")
    if len(spec.description) > MAX_DESCRIPTION:
        raise BadUserInput(
            f"description is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    if spec.unit is not None and spec.unit not in UNITS:
        raise BadUserInput(f"unit: {spec.unit!r} is not one of {', '.join(UNITS)}", field="unit")
    if spec.target is not None and not math.isfinite(spec.target):
        raise BadUserInput("target must be a finite number", field="target")
    if len(spec.labels) > MAX_LABELS:
        raise BadUserInput(f"labels: at most {MAX_LABELS}", field="labels")
    for key, value in spec.labels.items():
        if not LABEL_KEY_RE.match(key):
            raise BadUserInput(f"labels: {key!r} is not a valid label name", field="labels")
        if "$" in value or len(value) > MAX_LABEL_VALUE:
            raise BadUserInput(
                f"labels: the value of {key!r} must be at most {MAX_LABEL_VALUE} characters "
                "without $variables",
                field="labels",
            )
    tree = formula.parse(spec.formula)
    for ref in formula.metric_refs(tree):
        if not NAME_RE.match(ref.name):
            raise BadUserInput(
                f"formula: {ref.name!r} is not a metric name (a KPI takes no $variables)",
                field="formula",
            )
        if any("$" in value for _, value in ref.labels):
            raise BadUserInput(
                f"formula: the labels of {ref.name!r} hold a $variable; a KPI names its values",
                field="formula",
            )
    return tree
