"""Alert rules, silences and channels as plain data, with their stored form.

Each is a per-tenant document in the `ConfigStore`; `to_document` /
`from_document` are the only places that know the stored layout.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from analytics_gateway.errors import BadUserInput
from analytics_gateway.regexes import full_match

MAX_LABELS = 32
MAX_TEXT = 4096
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\- ]{0,127}$")
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

MIN_INTERVAL_MS = 1_000
DEFAULT_INTERVAL_MS = 30_000
DEFAULT_GROUP_WAIT_MS = 10_000
DEFAULT_GROUP_INTERVAL_MS = 60_000
DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000


class Severity(enum.StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class RuleKind(enum.StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


@dataclass(frozen=True)
class AlertRule:
    """One rule of one tenant. Durations are milliseconds."""

    id: str
    tenant: str
    name: str
    condition: str
    severity: Severity = Severity.WARNING
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    interval_ms: int = DEFAULT_INTERVAL_MS
    channels: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    group_by: tuple[str, ...] = ()
    group_wait_ms: int = DEFAULT_GROUP_WAIT_MS
    group_interval_ms: int = DEFAULT_GROUP_INTERVAL_MS
    repeat_interval_ms: int = DEFAULT_REPEAT_INTERVAL_MS
    created_at_ms: int = 0
    updated_at_ms: int = 0
    created_by: str = ""
    version: int = 0

    def full_labels(self, series_labels: Mapping[str, str]) -> dict[str, str]:
        """What silences and grouping match on: series, then rule labels, then identity."""
        return {
            **series_labels,
            **self.labels,
            "alertname": self.name,
            "severity": self.severity.value,
        }

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "condition": self.condition,
            "severity": self.severity.value,
            "for_ms": self.for_ms,
            "keep_firing_for_ms": self.keep_firing_for_ms,
            "interval_ms": self.interval_ms,
            "channels": list(self.channels),
            "actions": list(self.actions),
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "enabled": self.enabled,
            "group_by": list(self.group_by),
            "group_wait_ms": self.group_wait_ms,
            "group_interval_ms": self.group_interval_ms,
            "repeat_interval_ms": self.repeat_interval_ms,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "created_by": self.created_by,
        }

    @classmethod
    def from_document(cls, tenant: str, version: int, doc: Mapping[str, Any]) -> AlertRule:
        return cls(
            id=doc["id"],
            tenant=tenant,
            name=doc["name"],
            condition=doc["condition"],
            severity=Severity(doc["severity"]),
            for_ms=int(doc["for_ms"]),
            keep_firing_for_ms=int(doc["keep_firing_for_ms"]),
            interval_ms=int(doc["interval_ms"]),
            channels=tuple(doc["channels"]),
            actions=tuple(doc["actions"]),
            labels=dict(doc["labels"]),
            annotations=dict(doc["annotations"]),
            enabled=bool(doc["enabled"]),
            group_by=tuple(doc["group_by"]),
            group_wait_ms=int(doc["group_wait_ms"]),
            group_interval_ms=int(doc["group_interval_ms"]),
            repeat_interval_ms=int(doc["repeat_interval_ms"]),
            created_at_ms=int(doc["created_at_ms"]),
            updated_at_ms=int(doc["updated_at_ms"]),
            created_by=str(doc.get("created_by", "")),
            version=version,
        )

    def with_version(self, version: int) -> AlertRule:
        return replace(self, version=version)


class MatchOp(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class LabelMatcher:
    label: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        hit = full_match(self.value, actual)  # RE2: linear in the value
        return hit if self.op is MatchOp.RE else not hit


@dataclass(frozen=True)
class Silence:
    """Mutes notifications of matching alerts between `starts_at_ms` and `ends_at_ms`."""

    id: str
    tenant: str
    matchers: tuple[LabelMatcher, ...]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    comment: str
    created_at_ms: int = 0

    def active(self, now_ms: int) -> bool:
        return self.starts_at_ms <= now_ms < self.ends_at_ms

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [[m.label, m.op.value, m.value] for m in self.matchers],
            "starts_at_ms": self.starts_at_ms,
            "ends_at_ms": self.ends_at_ms,
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_document(cls, tenant: str, doc: Mapping[str, Any]) -> Silence:
        return cls(
            id=doc["id"],
            tenant=tenant,
            matchers=tuple(LabelMatcher(m[0], MatchOp(m[1]), m[2]) for m in doc["matchers"]),
            starts_at_ms=int(doc["starts_at_ms"]),
            ends_at_ms=int(doc["ends_at_ms"]),
            created_by=doc["created_by"],
            comment=doc["comment"],
            created_at_ms=int(doc.get("created_at_ms", 0)),
        )


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


@dataclass(frozen=True)
class Channel:
    """Where notifications go. `name` is what rules list in `channels` / `actions`.

    Secrets (webhook signing key, SMTP password) are stored but never returned.
    """

    id: str
    tenant: str
    name: str
    kind: ChannelKind
    url: str = ""
    secret: str = ""
    timeout_ms: int = 5_000
    max_retries: int = 2
    smtp_host: str = ""
    smtp_port: int = 25
    start_tls: bool = False
    username: str = ""
    password: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    version: int = 0

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "url": self.url,
            "secret": self.secret,
            "timeout_ms": self.timeout_ms,
            "max_retries": self.max_retries,
            "smtp_host": self.smtp_host,
            "smtp_port": self.smtp_port,
            "start_tls": self.start_tls,
            "username": self.username,
            "password": self.password,
            "sender": self.sender,
            "recipients": list(self.recipients),
        }

    @classmethod
    def from_document(cls, tenant: str, version: int, doc: Mapping[str, Any]) -> Channel:
        return cls(
            id=doc["id"],
            tenant=tenant,
            name=doc["name"],
            kind=ChannelKind(doc["kind"]),
            url=doc["url"],
            secret=doc["secret"],
            timeout_ms=int(doc["timeout_ms"]),
            max_retries=int(doc["max_retries"]),
            smtp_host=doc["smtp_host"],
            smtp_port=int(doc["smtp_port"]),
            start_tls=bool(doc["start_tls"]),
            username=doc["username"],
            password=doc["password"],
            sender=doc["sender"],
            recipients=tuple(doc["recipients"]),
            version=version,
        )


# -- validation shared by the service and the API ------------------------------


def check_name(value: str, field_name: str = "name") -> str:
    value = value.strip()
    if not NAME_RE.match(value):
        raise BadUserInput(
            f"{field_name}: {value!r} must be 1-128 letters, digits, spaces or _ . : -",
            field=field_name,
        )
    return value


def check_labels(raw: Any, field_name: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadUserInput(f"{field_name} must be an object of string values", field=field_name)
    if len(raw) > MAX_LABELS:
        raise BadUserInput(f"{field_name}: at most {MAX_LABELS} entries", field=field_name)
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not LABEL_RE.match(key):
            raise BadUserInput(f"{field_name}: invalid key {key!r}", field=field_name)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadUserInput(f"{field_name}: {key!r} must map to a string", field=field_name)
        text = str(value)
        if len(text) > MAX_TEXT:
            raise BadUserInput(f"{field_name}: {key!r} is too long", field=field_name)
        out[key] = text
    return out


def check_names(values: Sequence[str], field_name: str) -> tuple[str, ...]:
    if len(values) > MAX_LABELS:
        raise BadUserInput(f"{field_name}: at most {MAX_LABELS} entries", field=field_name)
    return tuple(dict.fromkeys(check_name(v, field_name) for v in values))
