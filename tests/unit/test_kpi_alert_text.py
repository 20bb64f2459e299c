"""A KPI's name is text in its alert's summary, never a template placeholder."""

from __future__ import annotations

import pytest

from analytics_gateway.alerting.model import Severity
from analytics_gateway.alerting.templates import check_template, render
from analytics_gateway.domain import Aggregation
from analytics_gateway.kpis.alerts import rule_spec
from analytics_gateway.kpis.model import Direction, KpiDefinition


@pytest.mark.parametrize("name", ["KPI {{ bad", "X {{ $labels.secret }}", "a {{{ b }}}} c"])
def test_braces_in_the_name_neither_break_nor_fill_the_summary(name: str) -> None:
    kpi = KpiDefinition(
        id="k1",
        name=name,
        formula="revenue",
        unit=None,
        target=10.0,
        direction=Direction.HIGHER,
        aggregation=Aggregation.SUM,
    )
    spec = rule_spec(kpi, "1h", "1h", Severity.WARNING, [], None)
    assert spec.annotations is not None
    summary = spec.annotations["summary"]
    check_template("summary", summary)  # refused placeholders would raise
    shown = render(
        summary,
        value=3.0,
        labels={"secret": "LEAKED"},
        name="r",
        severity="warning",
        state="firing",
    )
    assert "LEAKED" not in shown
    assert " is 3 over 1h" in shown
    assert "{{" not in shown
