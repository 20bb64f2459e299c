"""Funnels: checks of a request, and per-step figures from each user's step times.

A user's attempt starts at their first step-1 event in the range; step i is
their first step-i event after step i-1, counted only within `within` of the
attempt's start. The store counts, per step, the users who reached it and
the two middle delays from the previous step (`BehaviourStore.funnel`), for
everyone and per breakdown value (of the step-1 event's metadata key): the
`MAX_BREAKDOWN` values with most users, the rest as "other". This module turns
those counts into conversions and median times, so both stores give the same
answer and none sends a row per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analytics_gateway.backends.base import FunnelCounts, FunnelTally
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


def figures(steps: Sequence[str], counts: FunnelCounts) -> list[FunnelStep]:
    """Per step, from a store's counts of one group of users."""
    out: list[FunnelStep] = []
    first = counts.users[0]
    for i, step in enumerate(steps):
        reached = counts.users[i]
        previous = out[-1].users if out else None
        middle = counts.middles[i] if i else None
        out.append(
            FunnelStep(
                event_type=step,
                users=reached,
                from_previous=None if previous is None else _share(reached, previous),
                from_first=_share(reached, first),
                median_seconds=None if middle is None else _median_seconds(*middle),
            )
        )
    return out


def breakdown(steps: Sequence[str], tally: FunnelTally) -> list[FunnelGroup]:
    """Groups by value as the store ordered them (most users first, then by value, null
    last), the rest as "other"."""
    groups = [FunnelGroup(value, figures(steps, counts)) for value, counts in tally.groups]
    if tally.other is not None:
        groups.append(FunnelGroup(OTHER, figures(steps, tally.other)))
    return groups


def decode(raw: Any) -> FunnelTally:
    """A `FunnelTally` back from its JSON (as the behaviour cache keeps it)."""

    def counts(item: Any) -> FunnelCounts:
        middles = [None if m is None else (int(m[0]), int(m[1])) for m in item["middles"]]
        return FunnelCounts([int(n) for n in item["users"]], middles)

    return FunnelTally(
        overall=counts(raw["overall"]),
        groups=[(value, counts(item)) for value, item in raw["groups"]],
        other=None if raw["other"] is None else counts(raw["other"]),
    )


def _median_seconds(low_ms: int, high_ms: int) -> float:
    """As `statistics.median` of the delays in seconds: the middle one, or the mean of
    the two middle ones."""
    return (low_ms / 1000 + high_ms / 1000) / 2


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
