"""The audit chain itself, pure: an entry's canonical form, its hash, and the walk that
finds the first entry that is not what the chain says it should be.

Each entry's `hash` is the SHA-256 of its canonical encoding (sorted-key compact JSON of
every field but `hash`), and that encoding holds `prev`, the hash of the entry before it
in the tenant's chain. Editing an entry changes its hash; deleting one leaves the next
entry's `prev` naming a hash that is no longer there. Trimming for retention keeps the
hash of the last entry it dropped as the chain's `anchor`, and the store keeps the
newest entry's hash as its `head`, so a cut at either end shows too.

Someone who can write the store can still rewrite a whole chain, every hash and the
head included, and it verifies. A head kept outside the store catches that: a later
walk must meet it (`ChainWalk(kept=...)`), and after a rewrite no entry has that hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import orjson

VERSION = "1"
# every field an entry holds, `hash` aside; all strings (a Redis stream holds nothing else)
FIELDS = (
    "v",
    "time",
    "tenant",
    "actor",
    "action",
    "target",
    "requestId",
    "outcome",
    "count",
    "prev",
)
OK = "ok"


@dataclass(frozen=True)
class AuditEntry:
    """One security-relevant act, as stored (`id` is the store's, not hashed)."""

    id: str
    time_ms: int
    tenant: str
    actor: str
    action: str
    target: str
    request_id: str
    outcome: str
    count: int
    prev: str
    hash: str

    @classmethod
    def of(cls, entry_id: str, fields: Mapping[str, str]) -> AuditEntry:
        return cls(
            id=entry_id,
            time_ms=_int(fields.get("time", "0")),
            tenant=fields.get("tenant", ""),
            actor=fields.get("actor", ""),
            action=fields.get("action", ""),
            target=fields.get("target", ""),
            request_id=fields.get("requestId", ""),
            outcome=fields.get("outcome", ""),
            count=_int(fields.get("count", "1")),
            prev=fields.get("prev", ""),
            hash=fields.get("hash", ""),
        )

    def as_json(self) -> dict[str, object]:
        """The entry as the NDJSON export writes it: enough to verify it elsewhere."""
        return {
            "id": self.id,
            "time": self.time_ms,
            "tenant": self.tenant,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "requestId": self.request_id,
            "outcome": self.outcome,
            "count": self.count,
            "prev": self.prev,
            "hash": self.hash,
        }


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1  # an edited entry: its hash tells


def canonical(fields: Mapping[str, str]) -> bytes:
    """The bytes an entry's hash is taken over: every known field but `hash`, keys sorted."""
    return orjson.dumps({k: fields.get(k, "") for k in FIELDS}, option=orjson.OPT_SORT_KEYS)


def entry_hash(fields: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def sealed(
    prev: str,
    *,
    time_ms: int,
    tenant: str,
    actor: str,
    action: str,
    target: str = "",
    request_id: str = "",
    outcome: str = OK,
    count: int = 1,
) -> dict[str, str]:
    """The fields of a new entry that follows the entry whose hash is `prev`, `hash` included."""
    fields = {
        "v": VERSION,
        "time": str(time_ms),
        "tenant": tenant,
        "actor": actor,
        "action": action,
        "target": target,
        "requestId": request_id,
        "outcome": outcome,
        "count": str(count),
        "prev": prev,
    }
    fields["hash"] = entry_hash(fields)
    return fields


@dataclass(frozen=True)
class Break:
    """Where a chain stops being verifiable, and why."""

    entry_id: str
    reason: str


class ChainWalk:
    """Checks a tenant's entries oldest first, a page at a time, from its anchor.

    The walk must pass the head the store named before it started; entries after it
    were appended while it ran, and are checked like the others. With `kept`, a head
    saved earlier away from the store, it must pass that one too.
    """

    def __init__(self, anchor: str, head: str, kept: str | None = None) -> None:
        self.expected = anchor
        self.head = head
        self.passed_head = head == anchor
        self.kept = kept
        self.passed_kept = kept is None or kept in ("", anchor)
        self.checked = 0
        self.last_id = ""

    def feed(self, entries: Iterable[tuple[str, Mapping[str, str]]]) -> Break | None:
        """The first bad entry among `entries` (which follow those fed before), or None."""
        for entry_id, fields in entries:
            if fields.get("prev", "") != self.expected:
                return Break(
                    entry_id,
                    "it does not follow the entry before it: an entry before it was "
                    "deleted or changed",
                )
            if entry_hash(fields) != fields.get("hash"):
                return Break(entry_id, "its content does not match its hash: it was edited")
            self.expected = fields["hash"]
            self.passed_head = self.passed_head or self.expected == self.head
            self.passed_kept = self.passed_kept or self.expected == self.kept
            self.checked += 1
            self.last_id = entry_id
        return None

    def end(self) -> Break | None:
        """After the last entry: the walk must have passed the store's newest entry."""
        if not self.passed_head:
            return Break(
                self.last_id or "(none)",
                "the chain ends early: entries after it were deleted (or the newest was changed)",
            )
        if not self.passed_kept:
            return Break(
                self.last_id or "(none)",
                f"the head kept outside the store ({self.kept}) is not in the chain: the "
                "chain was rewritten (or retention trimmed past it)",
            )
        return None
