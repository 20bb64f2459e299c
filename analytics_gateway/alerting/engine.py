"""One evaluation of one rule, from outcomes to events and notifications. Pure.

`advance` is the whole chain after the condition is computed: the state
machine per instance, no-data and error handling, grouping, silences and the
notifications a group flush sends. The scheduler and the simulation both call
it; only they do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics_gateway.alerting.grouping import (
    Decision,
    Group,
    GroupStatus,
    Timing,
    decide,
    is_idle,
)
from analytics_gateway.alerting.model import AlertRule, Silence
from analytics_gateway.alerting.notify import build, short_hash
from analytics_gateway.alerting.silences import muting
from analytics_gateway.alerting.state import (
    AlertState,
    Instance,
    Outcome,
    Result,
    Transition,
    rule_state,
    step,
)
from analytics_gateway.alerting.templates import render_all
from analytics_gateway.domain import canonical_labels

HISTORY = 100
NO_LABELS = canonical_labels({})

Evaluation = Mapping[str, tuple[dict[str, str], Outcome]]


@dataclass
class RuleState:
    """What a rule remembers between evaluations; stored as one document."""

    instances: dict[str, Instance] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0  # of the stored document; 0: never stored

    @property
    def state(self) -> AlertState:
        return rule_state([i.state for i in self.instances.values()])

    def to_document(self) -> dict[str, Any]:
        return {
            "instances": {k: i.to_document() for k, i in self.instances.items()},
            "groups": {k: g.to_document() for k, g in self.groups.items()},
            "history": self.history,
        }

    @classmethod
    def from_document(cls, version: int, doc: Mapping[str, Any]) -> RuleState:
        return cls(
            instances={k: Instance.from_document(k, d) for k, d in doc["instances"].items()},
            groups={k: Group.from_document(k, d) for k, d in doc["groups"].items()},
            history=list(doc["history"]),
            version=version,
        )


@dataclass(frozen=True)
class Advance:
    state: RuleState
    events: list[dict[str, Any]]  # transitions and notifications, in order
    notifications: list[dict[str, Any]]
    changed: bool  # the stored state must be written
    next_flush_ms: int | None  # a queued group wants an evaluation by then


def _outcomes(
    state: RuleState, evaluation: Evaluation | str
) -> dict[str, tuple[dict[str, str], Outcome]]:
    """Outcome per instance: evaluated series, absent ones (no data), or all failed."""
    if isinstance(evaluation, str):
        failed = Outcome(Result.ERROR, error=evaluation)
        out = {k: (i.labels, failed) for k, i in state.instances.items()}
        return out or {NO_LABELS: ({}, failed)}
    nodata = Outcome(Result.NODATA)
    out = dict(evaluation)
    for key, instance in state.instances.items():
        out.setdefault(key, (instance.labels, nodata))
    if not out:
        out[NO_LABELS] = ({}, nodata)
    return out


def advance(
    rule: AlertRule,
    state: RuleState,
    evaluation: Evaluation | str,
    now_ms: int,
    silences: Sequence[Silence],
) -> Advance:
    """The rule after one evaluation; `evaluation` is a message when it failed."""
    instances: dict[str, Instance] = {}
    transitions: list[Transition] = []
    for key, (labels, outcome) in _outcomes(state, evaluation).items():
        current = state.instances.get(key) or Instance(key, labels, since_ms=now_ms)
        nxt, moved = step(current, outcome, now_ms, rule.for_ms, rule.keep_firing_for_ms)
        absent = not isinstance(evaluation, str) and evaluation and key not in evaluation
        if absent and moved is None and nxt.state not in (AlertState.FIRING, AlertState.PENDING):
            continue  # its series is gone and nothing is pending on it: forget it
        instances[key] = nxt
        if moved is not None:
            transitions.append(moved)
    full = {k: rule.full_labels(i.labels) for k, i in instances.items()}
    silenced = {k: ids for k in instances if (ids := muting(silences, full[k], now_ms))}
    groups, decisions = _group(rule, state, instances, full, silenced, now_ms)
    notifications: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for decision in decisions.values():
        if decision.flush is None:
            continue
        previous = state.groups.get(decision.group.key)
        before = set(previous.notified) if previous else set()
        newly = bool(set(decision.flush.firing) - before)
        notifications += build(rule, decision.flush, instances, newly, now_ms)
    by_group = _notification_ids(notifications)
    keys_moved = {t.key for t in transitions}
    for t in transitions:
        group_key = _group_key(rule, full[t.key]) if t.key in full else ""
        events.append(
            _transition_event(
                rule, t, full.get(t.key, rule.full_labels(t.labels)), instances.get(t.key),
                decisions.get(group_key), silenced.get(t.key, []), by_group.get(group_key, []),
            )
        )  # fmt: skip
    for key, decision in decisions.items():
        flush = decision.flush
        if flush is not None and not (set(flush.firing) | set(flush.resolved)) & keys_moved:
            events.append(_notification_event(rule, decision, by_group.get(key, []), now_ms))
    history = (state.history + [e for e in events if e["kind"] == "TRANSITION"])[-HISTORY:]
    new_state = RuleState(instances, groups, history, state.version)
    changed = (
        bool(transitions) or groups != state.groups or instances.keys() != state.instances.keys()
    )
    queued = [d.due_ms for d in decisions.values() if d.due_ms is not None]
    return Advance(new_state, events, notifications, changed, min(queued, default=None))


def _group_key(rule: AlertRule, labels: Mapping[str, str]) -> str:
    if not rule.group_by:
        return NO_LABELS
    return canonical_labels({k: labels.get(k, "") for k in rule.group_by})


def _group(
    rule: AlertRule,
    state: RuleState,
    instances: Mapping[str, Instance],
    full: Mapping[str, Mapping[str, str]],
    silenced: Mapping[str, list[str]],
    now_ms: int,
) -> tuple[dict[str, Group], dict[str, Decision]]:
    timing = Timing(rule.group_wait_ms, rule.group_interval_ms, rule.repeat_interval_ms)
    members: dict[str, set[str]] = {key: set() for key in state.groups}
    labels: dict[str, dict[str, str]] = {}
    for key in instances:
        group_key = _group_key(rule, full[key])
        members.setdefault(group_key, set()).add(key)
        labels[group_key] = {k: full[key].get(k, "") for k in rule.group_by}
    groups: dict[str, Group] = {}
    decisions: dict[str, Decision] = {}
    for group_key, keys in members.items():
        group = state.groups.get(group_key) or Group(group_key, labels.get(group_key, {}))
        firing = {k for k in keys if instances[k].state is AlertState.FIRING}
        decision = decide(group, firing, set(silenced) & keys, now_ms, timing)
        decisions[group_key] = decision
        if not is_idle(decision.group, now_ms, timing):
            groups[group_key] = decision.group
    return groups, decisions


def _notification_ids(notifications: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in notifications:
        out.setdefault(n["groupKey"], []).append(n["id"])
    return out


def _why(
    t: Transition,
    decision: Decision | None,
    silence_ids: list[str],
    notification_ids: list[str],
) -> dict[str, Any]:
    """Whether this transition was notified, and if not, what held it."""
    group = decision.group.key if decision else None
    why: dict[str, Any] = {
        "status": "NONE",
        "reason": "",
        "silenceIds": silence_ids,
        "group": group,
        "notificationIds": [],
        "dueAt": None,
    }
    involved = AlertState.FIRING in (t.state, t.previous)
    if not involved:
        why["reason"] = "only entering and leaving FIRING notify"
        return why
    flush = decision.flush if decision else None
    if flush is not None and t.key in (*flush.firing, *flush.resolved):
        if notification_ids:
            return {**why, "status": "SENT", "reason": "sent", "notificationIds": notification_ids}
        return {**why, "reason": "the rule has no channels"}
    if t.state is AlertState.FIRING and silence_ids:
        return {**why, "status": "SILENCED", "reason": f"muted by silence {', '.join(silence_ids)}"}
    if decision is not None and decision.status is GroupStatus.QUEUED:
        return {
            **why,
            "status": "QUEUED",
            "reason": f"group {group} waits (groupWait/groupInterval) until the due time",
            "dueAt": decision.due_ms,
        }
    if decision is not None and decision.status is GroupStatus.UNCHANGED:
        last = decision.group.last_sent_ms
        detail = f"its last notification (at {last}) already says so" if last else "never notified"
        return {**why, "status": "HELD", "reason": f"group {group}: {detail}"}
    if silence_ids:
        return {**why, "status": "SILENCED", "reason": f"muted by silence {', '.join(silence_ids)}"}
    return {**why, "reason": "not notified as firing, so no resolve is sent"}


def _transition_event(
    rule: AlertRule,
    t: Transition,
    labels: dict[str, str],
    instance: Instance | None,
    decision: Decision | None,
    silence_ids: list[str],
    notification_ids: list[str],
) -> dict[str, Any]:
    return {
        "id": f"{rule.id}.{short_hash(t.key)}.{t.seq}",
        "kind": "TRANSITION",
        "alertId": rule.id,
        "alertName": rule.name,
        "severity": rule.severity.value,
        "labels": labels,
        "previousState": t.previous.value,
        "state": t.state.value,
        "value": t.value,
        "at": t.at_ms,
        "error": t.error,
        "annotations": render_all(
            rule.annotations,
            value=t.value,
            labels=labels,
            name=rule.name,
            severity=rule.severity.value,
            state=t.state.value,
        ),
        "notification": _why(t, decision, silence_ids, notification_ids),
        "firedAt": instance.fired_at_ms if instance else None,
    }


def _notification_event(
    rule: AlertRule, decision: Decision, notification_ids: list[str], now_ms: int
) -> dict[str, Any]:
    """A group notified without a transition this round (its wait ended, or a repeat)."""
    flush = decision.flush
    assert flush is not None
    reason = "repeat of an unchanged firing group" if flush.repeat else "queued changes sent"
    return {
        "id": f"{rule.id}.{short_hash(flush.group_key)}.n{flush.seq}",
        "kind": "NOTIFICATION",
        "alertId": rule.id,
        "alertName": rule.name,
        "severity": rule.severity.value,
        "labels": flush.group_labels,
        "previousState": None,
        "state": AlertState.FIRING.value if flush.firing else AlertState.RESOLVED.value,
        "value": None,
        "at": now_ms,
        "error": None,
        "annotations": {},
        "notification": {
            "status": "SENT",
            "reason": reason,
            "silenceIds": [],
            "group": flush.group_key,
            "notificationIds": notification_ids,
            "dueAt": None,
        },
        "firedAt": None,
    }
