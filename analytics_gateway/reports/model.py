"""Reports as data: plain dataclasses and their stored JSON form. No GraphQL, no I/O.

A report is a named set of KPIs (by id) and panels (metric queries, as a
dashboard widget's METRIC query) over a period (a day, week or month), sent on
a schedule to channels (by id) that alerting already delivers to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics_gateway.domain import Aggregation
from analytics_gateway.reports.schedule import Period

MAX_REPORTS = 50
MAX_PANELS = 8
MAX_KPIS = 20
MAX_RECIPIENTS = 10
MAX_GROUP_BY = 3
MAX_NAME = 200


@dataclass(frozen=True)
class ReportPanel:
    """One metric of the report: a chart, its change against the previous period (with
    the label values that drove it), its anomalies and its forecast."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    aggregation: Aggregation = Aggregation.SUM
    group_by: tuple[str, ...] | None = None
    title: str = ""

    @property
    def subject(self) -> str:
        return self.title or self.name

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "labels": dict(self.labels),
            "aggregation": self.aggregation.value,
            "groupBy": list(self.group_by) if self.group_by is not None else None,
            "title": self.title,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ReportPanel:
        group_by = doc.get("groupBy")
        return cls(
            name=doc["name"],
            labels=dict(doc.get("labels") or {}),
            aggregation=Aggregation(doc.get("aggregation", "sum")),
            group_by=tuple(group_by) if group_by is not None else None,
            title=doc.get("title", ""),
        )


@dataclass(frozen=True)
class ReportSpec:
    """Everything a user defines about a report (what a save writes). `schedule` None:
    generated on demand only."""

    name: str
    kpis: tuple[str, ...] = ()
    panels: tuple[ReportPanel, ...] = ()
    period: Period = Period.WEEK
    schedule: str | None = None
    recipients: tuple[str, ...] = ()
    time_zone: str = "UTC"
    """The zone periods are cut in: the schedule's, else UTC."""

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kpis": list(self.kpis),
            "panels": [p.as_document() for p in self.panels],
            "period": self.period.value,
            "schedule": self.schedule,
            "recipients": list(self.recipients),
            "timeZone": self.time_zone,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ReportSpec:
        return cls(
            name=doc["name"],
            kpis=tuple(doc.get("kpis") or ()),
            panels=tuple(ReportPanel.from_document(p) for p in doc.get("panels") or ()),
            period=Period(doc.get("period", "week")),
            schedule=doc.get("schedule"),
            recipients=tuple(doc.get("recipients") or ()),
            time_zone=doc.get("timeZone", "UTC"),
        )


@dataclass(frozen=True)
class Report:
    """A stored report: its id, version (one more per save) and definition."""

    id: str
    version: int
    spec: ReportSpec
    created_at_ms: int = 0
    updated_at_ms: int = 0
