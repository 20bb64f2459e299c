"""Notification grouping: when a group of alerts is notified, and with what. Pure.

A rule's instances fall into groups by the values of the rule's `groupBy`
labels (no `groupBy`: one group per rule). A group remembers which instances
its last notification reported as firing. It notifies when that set changes:
the first time after `groupWait` (so instances firing together arrive in one
message), later no sooner than `groupInterval` after its last notification,
and it repeats an unchanged firing set every `repeatInterval`. A metric that
flaps within `groupInterval` ends where it started, so nothing is sent; a
silenced instance is left out.
"""

from __future__ import annotations

import enum
from collections.abc import Set
from dataclasses import dataclass, replace
from typing import Any


class GroupStatus(enum.Enum):
    SENT = "sent"  # a notification goes out now
    QUEUED = "queued"  # a change waits for groupWait / groupInterval
    UNCHANGED = "unchanged"  # the last notification already says this
    SILENCED = "silenced"  # the only changes are silenced instances


@dataclass(frozen=True)
class Timing:
    wait_ms: int
    interval_ms: int
    repeat_ms: int


@dataclass(frozen=True)
class Group:
    key: str
    labels: dict[str, str]
    notified: tuple[str, ...] = ()  # firing instance keys the last notification reported
    last_sent_ms: int | None = None
    pending_since_ms: int | None = None  # first change not yet notified
    seq: int = 0  # notifications sent so far

    def to_document(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "notified": list(self.notified),
            "last_sent_ms": self.last_sent_ms,
            "pending_since_ms": self.pending_since_ms,
            "seq": self.seq,
        }

    @classmethod
    def from_document(cls, key: str, doc: dict[str, Any]) -> Group:
        return cls(
            key=key,
            labels=dict(doc["labels"]),
            notified=tuple(doc["notified"]),
            last_sent_ms=doc["last_sent_ms"],
            pending_since_ms=doc["pending_since_ms"],
            seq=int(doc["seq"]),
        )


@dataclass(frozen=True)
class Flush:
    """One notification of a group: who fires, who resolved since the last one."""

    group_key: str
    group_labels: dict[str, str]
    seq: int
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    repeat: bool = False


@dataclass(frozen=True)
class Decision:
    group: Group
    status: GroupStatus
    flush: Flush | None = None
    due_ms: int | None = None  # when QUEUED: the earliest time it may be sent


def decide(
    group: Group, firing: Set[str], silenced: Set[str], now_ms: int, timing: Timing
) -> Decision:
    """What the group does at `now_ms`, given its FIRING instances and the silenced ones."""
    if not firing and not group.notified:  # most groups, most rounds: nothing to tell
        return Decision(_settled(group), GroupStatus.UNCHANGED)
    notified = set(group.notified)
    target = frozenset(firing - silenced)
    resolved = tuple(sorted(k for k in notified if k not in firing))
    if target == notified:
        unchanged = _settled(group)
        last = group.last_sent_ms
        if target and last is not None and now_ms - last >= timing.repeat_ms:
            return _send(unchanged, tuple(sorted(target)), (), now_ms, repeat=True)
        return Decision(unchanged, GroupStatus.UNCHANGED)
    if not (target - notified) and not resolved:
        # only silenced instances left the set: forget them quietly
        return Decision(
            replace(group, notified=tuple(sorted(target)), pending_since_ms=None),
            GroupStatus.SILENCED,
        )
    pending = group.pending_since_ms if group.pending_since_ms is not None else now_ms
    due = pending + timing.wait_ms
    if group.last_sent_ms is not None:
        due = max(due, group.last_sent_ms + timing.interval_ms)
    if now_ms < due:
        return Decision(replace(group, pending_since_ms=pending), GroupStatus.QUEUED, due_ms=due)
    return _send(group, tuple(sorted(target)), resolved, now_ms, repeat=False)


def _settled(group: Group) -> Group:
    """The group with nothing pending; the same object when that is already so."""
    return group if group.pending_since_ms is None else replace(group, pending_since_ms=None)


def _send(
    group: Group, firing: tuple[str, ...], resolved: tuple[str, ...], now_ms: int, *, repeat: bool
) -> Decision:
    sent = replace(
        group, notified=firing, last_sent_ms=now_ms, pending_since_ms=None, seq=group.seq + 1
    )
    flush = Flush(group.key, group.labels, sent.seq, firing, resolved, repeat)
    return Decision(sent, GroupStatus.SENT, flush)


def is_idle(group: Group, now_ms: int, timing: Timing) -> bool:
    """Nothing notified, nothing pending, and its last message is older than groupInterval."""
    recent = group.last_sent_ms is not None and now_ms - group.last_sent_ms < timing.interval_ms
    return not group.notified and group.pending_since_ms is None and not recent
