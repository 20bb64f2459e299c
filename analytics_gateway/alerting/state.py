"""The alert state machine: pure, shared by the scheduler and the simulation.

Per instance (one series of a rule), each evaluation yields an outcome: the
condition holds, does not hold, there is no data, or evaluation failed.

    INACTIVE/RESOLVED/NODATA/ERROR --holds--> PENDING --held for `for`--> FIRING
    PENDING --not--> INACTIVE
    FIRING --not / no data / error, for `keepFiringFor`--> RESOLVED / NODATA / ERROR
    any --no data--> NODATA,  any --error--> ERROR

Only FIRING notifies: entering it sends a firing notification, leaving it a
resolved one (see `grouping`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any


class AlertState(enum.StrEnum):
    INACTIVE = "INACTIVE"
    PENDING = "PENDING"
    FIRING = "FIRING"
    RESOLVED = "RESOLVED"
    NODATA = "NODATA"
    ERROR = "ERROR"


# the state a rule shows: the most urgent of its instances
_RANK = {
    AlertState.FIRING: 5,
    AlertState.PENDING: 4,
    AlertState.ERROR: 3,
    AlertState.NODATA: 2,
    AlertState.RESOLVED: 1,
    AlertState.INACTIVE: 0,
}


def rule_state(states: list[AlertState]) -> AlertState:
    return max(states, key=_RANK.__getitem__, default=AlertState.INACTIVE)


class Result(enum.Enum):
    HOLDS = "holds"
    CLEAR = "clear"
    NODATA = "nodata"
    ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    result: Result
    value: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Instance:
    """The state of one series of a rule; stored with the rule's state."""

    key: str
    labels: dict[str, str]
    state: AlertState = AlertState.INACTIVE
    since_ms: int = 0  # entered `state`
    active_since_ms: int | None = None  # condition true since (PENDING start)
    fired_at_ms: int | None = None
    clearing_since_ms: int | None = None  # FIRING but condition false since (keep-firing)
    value: float | None = None
    seq: int = 0  # transitions of this instance so far
    error: str | None = None

    def observed(self, value: float | None, error: str | None) -> Instance:
        """This instance with the latest value and error: every evaluation of every rule
        makes one, so it is spelled out rather than left to `dataclasses.replace`."""
        if value == self.value and error == self.error:
            return self
        return Instance(
            self.key, self.labels, self.state, self.since_ms, self.active_since_ms,
            self.fired_at_ms, self.clearing_since_ms, value, self.seq, error,
        )  # fmt: skip

    def to_document(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "state": self.state.value,
            "since_ms": self.since_ms,
            "active_since_ms": self.active_since_ms,
            "fired_at_ms": self.fired_at_ms,
            "clearing_since_ms": self.clearing_since_ms,
            "value": self.value,
            "seq": self.seq,
            "error": self.error,
        }

    @classmethod
    def from_document(cls, key: str, doc: dict[str, Any]) -> Instance:
        return cls(
            key=key,
            labels=dict(doc["labels"]),
            state=AlertState(doc["state"]),
            since_ms=int(doc["since_ms"]),
            active_since_ms=doc["active_since_ms"],
            fired_at_ms=doc["fired_at_ms"],
            clearing_since_ms=doc["clearing_since_ms"],
            value=doc["value"],
            seq=int(doc["seq"]),
            error=doc.get("error"),
        )


@dataclass(frozen=True)
class Transition:
    key: str
    labels: dict[str, str]
    previous: AlertState
    state: AlertState
    at_ms: int
    value: float | None
    seq: int
    error: str | None = None


_AFTER_FIRING = {
    Result.CLEAR: AlertState.RESOLVED,
    Result.NODATA: AlertState.NODATA,
    Result.ERROR: AlertState.ERROR,
}


def step(
    current: Instance, outcome: Outcome, now_ms: int, for_ms: int, keep_firing_for_ms: int
) -> tuple[Instance, Transition | None]:
    """The instance after one evaluation, and its transition if the state changed."""
    state = current.state
    result = outcome.result
    value = outcome.value if outcome.value is not None else current.value
    nxt = current.observed(value, outcome.error)
    if result is Result.HOLDS:
        if state is AlertState.FIRING:
            return replace(nxt, clearing_since_ms=None), None
        if state is AlertState.PENDING:
            since = current.active_since_ms if current.active_since_ms is not None else now_ms
            if now_ms - since >= for_ms:
                return _move(nxt, AlertState.FIRING, now_ms, fired_at_ms=now_ms)
            return nxt, None
        nxt = replace(nxt, active_since_ms=now_ms)
        if for_ms <= 0:
            return _move(nxt, AlertState.FIRING, now_ms, fired_at_ms=now_ms)
        return _move(nxt, AlertState.PENDING, now_ms)
    if state is AlertState.FIRING:
        clearing = current.clearing_since_ms if current.clearing_since_ms is not None else now_ms
        if now_ms - clearing < keep_firing_for_ms:
            return replace(nxt, clearing_since_ms=clearing), None
        return _move(nxt, _AFTER_FIRING[result], now_ms, active_since_ms=None)
    if result is Result.CLEAR:
        if state in (AlertState.PENDING, AlertState.NODATA, AlertState.ERROR):
            return _move(nxt, AlertState.INACTIVE, now_ms, active_since_ms=None)
        return nxt, None
    target = AlertState.NODATA if result is Result.NODATA else AlertState.ERROR
    if state is target:
        return nxt, None
    return _move(nxt, target, now_ms, active_since_ms=None)


def _move(
    instance: Instance, state: AlertState, now_ms: int, **changes: Any
) -> tuple[Instance, Transition]:
    moved = replace(
        instance,
        state=state,
        since_ms=now_ms,
        seq=instance.seq + 1,
        clearing_since_ms=None,
        **changes,
    )
    return moved, Transition(
        key=instance.key,
        labels=instance.labels,
        previous=instance.state,
        state=state,
        at_ms=now_ms,
        value=moved.value,
        seq=moved.seq,
        error=moved.error,
    )
