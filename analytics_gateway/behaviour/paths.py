"""Paths: what users did next after an event of one type.

For each event of type `after` in the range, its user's next event in the
range (by time, then event id) is the transition, if it came within `within`;
otherwise the transition is to `END` ("(end)"). The store counts transitions
and their distinct users per next type (`JourneyStore.next_events`); this
module checks the request and adds each one's share of all transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput

END = "(end)"
MAX_FIRST = 100
MAX_WITHIN_MS = 86_400_000


@dataclass(frozen=True)
class NextEvent:
    event_type: str
    transitions: int
    users: int
    share: float


def check_within(within: str) -> int:
    within_ms = parse_duration_ms(within, field="within")
    if not 0 < within_ms <= MAX_WITHIN_MS:
        raise BadUserInput("within: must be more than 0 and at most 24h", field="within")
    return within_ms


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first: must be from 1 to {MAX_FIRST}", field="first")
    return first


def order_key(event_type: str | None, transitions: int) -> tuple[int, str]:
    """Most transitions first, then by type, "(end)" spelt out: the order of both stores."""
    return -transitions, END if event_type is None else event_type


def next_events(total: int, found: list[tuple[str | None, int, int]]) -> list[NextEvent]:
    return [
        NextEvent(
            event_type=END if kind is None else kind,
            transitions=n,
            users=users,
            share=n / total if total else 0.0,
        )
        for kind, n, users in sorted(found, key=lambda row: order_key(row[0], row[1]))
    ]
