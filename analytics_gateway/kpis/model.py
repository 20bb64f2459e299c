"""KPIs as data: plain dataclasses and their stored JSON form. No GraphQL, no I/O.

A KPI is a formula (the dashboards' formula language, plus `events("type")`
for event counts) reduced over a time range by one aggregation, compared with
the same-length period before it (or the same period a week earlier), and
judged against a target in the direction that is better.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics_gateway.domain import Aggregation


class Direction(enum.Enum):
    """Which way is better: a KPI at or beyond its target on this side is on target."""

    HIGHER = "higher"
    LOWER = "lower"


class KpiStatus(enum.Enum):
    ON_TARGET = "on_target"
    OFF_TARGET = "off_target"
    NO_TARGET = "no_target"
    NO_DATA = "no_data"


class Comparison(enum.Enum):
    """The period a KPI's value is compared with."""

    PREVIOUS_PERIOD = "previous_period"
    """The period of the same length right before the range."""
    PREVIOUS_WEEK = "previous_week"
    """The same range, one week earlier."""


@dataclass(frozen=True)
class KpiSpec:
    """Everything a user defines about a KPI (what a save writes)."""

    name: str
    formula: str
    aggregation: Aggregation
    direction: Direction = Direction.HIGHER
    unit: str | None = None
    target: float | None = None
    description: str = ""
    comparison: Comparison = Comparison.PREVIOUS_PERIOD
    labels: Mapping[str, str] = field(default_factory=dict)
    """Label filters applied to every metric of the formula (not to event counts)."""

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "formula": self.formula,
            "aggregation": self.aggregation.value,
            "direction": self.direction.value,
            "unit": self.unit,
            "target": self.target,
            "description": self.description,
            "comparison": self.comparison.value,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> KpiSpec:
        target = doc.get("target")
        return cls(
            name=doc["name"],
            formula=doc["formula"],
            aggregation=Aggregation(doc["aggregation"]),
            direction=Direction(doc.get("direction", "higher")),
            unit=doc.get("unit"),
            target=float(target) if target is not None else None,
            description=doc.get("description", ""),
            comparison=Comparison(doc.get("comparison", "previous_period")),
            labels=dict(doc.get("labels") or {}),
        )


@dataclass(frozen=True)
class KpiDefinition:
    """A stored KPI: its id, version (one more per save) and definition."""

    id: str
    name: str
    formula: str
    unit: str | None
    target: float | None
    direction: Direction
    aggregation: Aggregation
    description: str = ""
    comparison: Comparison = Comparison.PREVIOUS_PERIOD
    labels: Mapping[str, str] = field(default_factory=dict)
    version: int = 0
    updated_at_ms: int = 0

    @classmethod
    def of(cls, kpi_id: str, version: int, spec: KpiSpec, updated_at_ms: int = 0) -> KpiDefinition:
        return cls(
            id=kpi_id,
            name=spec.name,
            formula=spec.formula,
            unit=spec.unit,
            target=spec.target,
            direction=spec.direction,
            aggregation=spec.aggregation,
            description=spec.description,
            comparison=spec.comparison,
            labels=dict(spec.labels),
            version=version,
            updated_at_ms=updated_at_ms,
        )

    @property
    def spec(self) -> KpiSpec:
        return KpiSpec(
            name=self.name,
            formula=self.formula,
            aggregation=self.aggregation,
            direction=self.direction,
            unit=self.unit,
            target=self.target,
            description=self.description,
            comparison=self.comparison,
            labels=dict(self.labels),
        )


@dataclass(frozen=True)
class KpiValue:
    """A KPI over [start_ms, end_ms): its value, the comparison period's, and the change.

    `change` is relative, `(value - previous) / |previous|`; None when either is
    missing or `previous` is 0. `series` is the formula per bucket of the range
    (None where a bucket has no data), for a sparkline.
    """

    definition: KpiDefinition
    start_ms: int
    end_ms: int
    value: float | None
    previous: float | None
    change: float | None
    status: KpiStatus
    series: list[tuple[int, float | None]]
    previous_start_ms: int = 0
    previous_end_ms: int = 0
    step_ms: int = 0


def status_of(value: float | None, target: float | None, direction: Direction) -> KpiStatus:
    """On target when `value` is at the target or beyond it on the better side."""
    if value is None:
        return KpiStatus.NO_DATA
    if target is None:
        return KpiStatus.NO_TARGET
    good = value >= target if direction is Direction.HIGHER else value <= target
    return KpiStatus.ON_TARGET if good else KpiStatus.OFF_TARGET


def change_of(value: float | None, previous: float | None) -> float | None:
    """Relative change; None when it is not defined (no data, or a previous of 0)."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)
