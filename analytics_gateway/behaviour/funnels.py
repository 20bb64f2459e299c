"""Funnels: checks of a request, and per-step figures from each user's step times.

A user's attempt starts at their first step-1 event in the range; step i is
their first step-i event after step i-1, counted only within `within` of the
attempt's start. The store finds those times (`BehaviourStore.funnel`); this
module counts users per step, conversions, and the median time from the
previous step, for everyone and per breakdown value (of the step-1 event's
metadata key): the `MAX_BREAKDOWN` values with most users, the rest as
"other".
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import metric_name
from analytics_gateway.validation import LABEL_KEY_RE

MIN_STEPS = 2
MAX_STEPS = 10
MAX_BREAKDOWN = 20
OTHER = "other"
MAX_WITHIN_MS = 90 * 86_400_000


@dataclass(frozen=True)
class FunnelStep:
    event_type: str
    users: int
    from_previous: float | None  # None for step 1
    from_first: float
    median_seconds: float | None  # None for step 1, or when nobody reached it


@dataclass(frozen=True)
class FunnelGroup:
    value: str | None
    steps: list[FunnelStep]


def check_steps(steps: Sequence[str]) -> tuple[str, ...]:
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise BadUserInput(f"steps: give {MIN_STEPS} to {MAX_STEPS} event types", field="steps")
    return tuple(metric_name(step, "steps") for step in steps)


def check_within(within: str) -> int:
    within_ms = parse_duration_ms(within, field="within")
    if not 0 < within_ms <= MAX_WITHIN_MS:
        raise BadUserInput("within: must be more than 0 and at most 90d", field="within")
    return within_ms


def check_breakdown(key: str) -> str:
    """A metadata key as event metadata allows it (also safe inside a JSON path)."""
    if not LABEL_KEY_RE.match(key):
        raise BadUserInput(f"breakdown: {key!r} is not a metadata key", field="breakdown")
    return key


def figures(steps: Sequence[str], users: Sequence[list[int]]) -> list[FunnelStep]:
    """Per step, from each user's step times (the steps they reached, in order)."""
    out: list[FunnelStep] = []
    first = sum(1 for times in users if times)
    for i, step in enumerate(steps):
        reached = [times for times in users if len(times) > i]
        previous = out[-1].users if out else None
        delays = [(times[i] - times[i - 1]) / 1000 for times in reached] if i else []
        out.append(
            FunnelStep(
                event_type=step,
                users=len(reached),
                from_previous=None if previous is None else _share(len(reached), previous),
                from_first=_share(len(reached), first),
                median_seconds=statistics.median(delays) if delays else None,
            )
        )
    return out


def breakdown(
    steps: Sequence[str], users: Sequence[tuple[str | None, list[int]]]
) -> list[FunnelGroup]:
    """Groups by value, most users first (then by value, null last), the rest as "other"."""
    by_value: dict[str | None, list[list[int]]] = {}
    for value, times in users:
        by_value.setdefault(value, []).append(times)
    order = sorted(by_value, key=lambda v: (-len(by_value[v]), v is None, v or ""))
    kept, rest = order[:MAX_BREAKDOWN], order[MAX_BREAKDOWN:]
    groups = [FunnelGroup(value, figures(steps, by_value[value])) for value in kept]
    if rest:
        others = [times for value in rest for times in by_value[value]]
        groups.append(FunnelGroup(OTHER, figures(steps, others)))
    return groups


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
