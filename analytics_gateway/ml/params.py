"""Checked detector parameters: every bad value names the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analytics_gateway.errors import BadUserInput


@dataclass(frozen=True)
class Param:
    """One parameter: its type, default and allowed range or choices."""

    kind: type  # int, float, str or bool
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False  # None is allowed

    def check(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (self.kind is not bool and isinstance(value, bool)):
            raise BadUserInput(
                f"{name}: expected {self.kind.__name__}, got {type(value).__name__}",
                field=name,
            )
        if self.choices and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise BadUserInput(f"{name}: must be one of {allowed}", field=name)
        if isinstance(value, int | float) and not self._in_range(value):
            raise BadUserInput(f"{name}: must be {self._bounds()}", field=name)
        return value

    def _in_range(self, value: float) -> bool:
        if self.low is not None and value < self.low:
            return False
        return self.high is None or value <= self.high

    def _bounds(self) -> str:
        if self.high is None:
            return f">= {self.low}"
        if self.low is None:
            return f"<= {self.high}"
        return f"from {self.low} to {self.high}"


def resolve_params(
    detector: str, schema: Mapping[str, Param], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Defaults overlaid with `given`, each checked; unknown names are refused."""
    for name in given:
        if name not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise BadUserInput(
                f"{name}: not a parameter of detector {detector!r} (known: {known})",
                field=name,
            )
    return {
        name: param.check(name, given[name]) if name in given else param.default
        for name, param in schema.items()
    }
