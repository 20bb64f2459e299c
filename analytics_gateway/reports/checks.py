"""Checks a report definition before it is saved, so a stored report always generates.

KPI and channel ids are checked against the tenant's by the service (they need
the store); everything else is checked here.
"""

from __future__ import annotations

from dataclasses import replace

from analytics_gateway.errors import BadUserInput
from analytics_gateway.reports.model import (
    MAX_GROUP_BY,
    MAX_KPIS,
    MAX_NAME,
    MAX_PANELS,
    MAX_RECIPIENTS,
    ReportPanel,
    ReportSpec,
)
from analytics_gateway.reports.schedule import parse_schedule
from analytics_gateway.validation import LABEL_KEY_RE, NAME_RE


def check_spec(spec: ReportSpec) -> ReportSpec:
    """The spec, checked, with its schedule normalised and its time zone taken from it."""
    if not spec.name.strip() or len(spec.name) > MAX_NAME:
        raise BadUserInput(f"name must be 1 to {MAX_NAME} characters", field="name")
    if any(ord(c) < 32 or ord(c) == 127 for c in spec.name):
        # the name is a mail's subject: a line break there would start another header
        raise BadUserInput("name: no control characters (line breaks, tabs)", field="name")
    if not spec.kpis and not spec.panels:
        raise BadUserInput("a report needs at least one KPI or panel", field="panels")
    if len(spec.kpis) > MAX_KPIS or len(set(spec.kpis)) != len(spec.kpis):
        raise BadUserInput(f"kpis: at most {MAX_KPIS} ids, each once", field="kpis")
    if len(spec.panels) > MAX_PANELS:
        raise BadUserInput(f"panels: at most {MAX_PANELS}", field="panels")
    for index, panel in enumerate(spec.panels):
        _check_panel(panel, index)
    if len(spec.recipients) > MAX_RECIPIENTS or len(set(spec.recipients)) != len(spec.recipients):
        raise BadUserInput(
            f"recipients: at most {MAX_RECIPIENTS} channel ids, each once", field="recipients"
        )
    if spec.schedule is None:
        if spec.recipients:
            raise BadUserInput("recipients need a schedule to be sent on", field="recipients")
        return replace(spec, time_zone="UTC")
    schedule = parse_schedule(spec.schedule)
    return replace(spec, schedule=schedule.text, time_zone=schedule.zone)


def _check_panel(panel: ReportPanel, index: int) -> None:
    def bad(message: str) -> BadUserInput:
        return BadUserInput(f"panel {index}: {message}", field="panels", index=index)

    if not NAME_RE.match(panel.name):
        raise bad(f"{panel.name[:100]!r} is not a metric name")
    if len(panel.title) > MAX_NAME:
        raise bad(f"title is longer than {MAX_NAME} characters")
    if len(panel.labels) > 20:
        raise bad("at most 20 label filters")
    for key, value in panel.labels.items():
        if not LABEL_KEY_RE.match(key) or len(value) > 256:
            raise bad(f"labels: {key[:100]!r} is not a label filter")
    group_by = panel.group_by or ()
    if len(group_by) > MAX_GROUP_BY or len(set(group_by)) != len(group_by):
        raise bad(f"groupBy: at most {MAX_GROUP_BY} labels, each once")
    for key in group_by:
        if not LABEL_KEY_RE.match(key):
            raise bad(f"groupBy: {key[:100]!r} is not a label name")
