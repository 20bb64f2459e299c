"""`AuditTrail`: the service that appends to, reads and trims the per-tenant audit chains.

Recording never fails the act it records: the act has already happened by then, and
an audit store outage should not turn every mutation into an error. An entry that
cannot be stored within the backend timeout is logged whole instead (no secret is in
it: arguments other than the target id are never recorded) and counted on
`gateway_audit_failures_total`, which operators alert on.

Refused credentials are counted per source and written once a minute as one summary
entry per source under the operator's tenant (a refused credential names no tenant):
a credential-stuffing burst costs the store one entry per source per minute, and at
most `MAX_SOURCES` sources are told apart in a minute (the rest are summed as `other`).

Sign-ins (a credential's first successful use in an hour, per process: `sign_ins`) are
written off the request's path: the request pays one dict lookup, and at most
`MAX_WRITES` sign-ins are being written at once (beyond that a sign-in is counted on
`gateway_audit_failures_total{reason="backlog"}` and recorded at the actor's next use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from analytics_gateway.audit.chain import OK, AuditEntry, Break, ChainWalk, sealed
from analytics_gateway.audit.sign_ins import SignIns
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.domain import Principal
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput, GatewayError, Unauthenticated
from analytics_gateway.observability import correlation_id

log = logging.getLogger(__name__)

REFUSED = "refusedCredentials"
SIGN_IN = "signIn"
MAX_WRITES = 1000  # sign-ins being written at once
MAX_SOURCES = 1000
SCAN_PAGE = 500
MAX_SCAN = 20_000  # entries one filtered page may read before it hands back a cursor
TRIM_BATCH = 1000
FLUSH_SECONDS = 60.0
TRIM_EVERY_SECONDS = 3600.0
MAX_TEXT = 256  # target and actor as stored: ids, never free text
_ENTRY_ID = re.compile(r"^[0-9]{1,20}(-[0-9]{1,20})?$")


class AuditMetrics:
    """The trail's counters, on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.recorded = Counter(
            "gateway_audit_entries",
            "Audit entries appended, by kind (mutation, refusal, export, signin, command).",
            ["kind"],
            registry=registry,
        )
        self.failed = Counter(
            "gateway_audit_failures",
            "Audit entries that could not be stored and were logged instead, by reason.",
            ["reason"],
            registry=registry,
        )
        self.trimmed = Counter(
            "gateway_audit_trimmed", "Audit entries dropped by retention.", registry=registry
        )
        for kind in ("mutation", "refusal", "export", "signin", "command"):
            self.recorded.labels(kind=kind)
        for reason in ("unavailable", "timeout", "backlog"):
            self.failed.labels(reason=reason)


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    has_next: bool
    end_cursor: str | None
    """The id to continue after: the last entry's, or the last one read when filters
    skipped every entry the page could read."""


def retention_ms(text: str) -> int:
    """ANALYTICS_AUDIT_RETENTION as milliseconds; 0 (keep forever) for `0` or empty."""
    if text.strip() in ("", "0"):
        return 0
    try:
        return parse_duration_ms(text, field="ANALYTICS_AUDIT_RETENTION")
    except BadUserInput as exc:
        raise ValueError(exc.message) from None


def entry_id(text: str, field: str = "after") -> str:
    """A store's entry id as a client hands it back, checked before it reaches a store."""
    if not _ENTRY_ID.match(text):
        raise BadUserInput(f"{field}: not a cursor returned by this API", field=field)
    return text


class AuditTrail:
    def __init__(
        self,
        config: ConfigStore,
        clock: Callable[[], int],
        metrics: AuditMetrics,
        *,
        operator_tenant: str,
        retention: str = "400d",
        timeout_seconds: float = 5.0,
    ) -> None:
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self._operator_tenant = operator_tenant
        self.retention_ms = retention_ms(retention)
        self._timeout = timeout_seconds
        # one append at a time per tenant in this process (the store serialises across
        # processes; this only spares Redis's compare-and-append its retries)
        self._locks: dict[str, asyncio.Lock] = {}
        self._refusals: dict[str, int] = {}
        self.sign_ins = SignIns()
        self._sign_in_marks = self.sign_ins.marks
        self._writes: set[asyncio.Task[str | None]] = set()

    async def record(
        self,
        *,
        tenant: str,
        actor: str,
        action: str,
        target: str = "",
        request_id: str = "",
        outcome: str = OK,
        count: int = 1,
        kind: str = "mutation",
    ) -> str | None:
        """Append one entry; its id, or None when it could not be stored (logged, counted)."""
        time_ms = self._clock()
        target, actor = target[:MAX_TEXT], actor[:MAX_TEXT]

        def seal(prev: str) -> dict[str, str]:
            return sealed(
                prev, time_ms=time_ms, tenant=tenant, actor=actor, action=action,
                target=target, request_id=request_id, outcome=outcome, count=count,
            )  # fmt: skip

        lock = self._locks.get(tenant)
        if lock is None:
            if len(self._locks) >= 10_000:
                self._locks = {t: held for t, held in self._locks.items() if held.locked()}
            lock = self._locks[tenant] = asyncio.Lock()
        try:
            async with asyncio.timeout(self._timeout), lock:
                stored = await self._config.append_audit(tenant, seal)
        except (GatewayError, TimeoutError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "unavailable"
            self._metrics.failed.labels(reason=reason).inc()
            unsealed = {k: v for k, v in seal("").items() if k not in ("prev", "hash")}
            log.error(
                "audit entry not stored (%s): %s",
                reason,
                unsealed,
                exc_info=not isinstance(exc, TimeoutError),
            )
            return None
        self._metrics.recorded.labels(kind=kind).inc()
        return stored

    # -- refused credentials: summaries, one entry per source per minute --

    def note_refusal(self, error: Exception, source: str) -> None:
        """Count a refused credential (other refusals, e.g. rate limits, are not counted)."""
        if not isinstance(error, Unauthenticated):
            return
        if source not in self._refusals and len(self._refusals) >= MAX_SOURCES:
            source = "other"
        self._refusals[source] = self._refusals.get(source, 0) + 1

    async def flush_refusals(self) -> None:
        counts, self._refusals = self._refusals, {}
        for source, count in sorted(counts.items()):
            await self.record(
                tenant=self._operator_tenant,
                actor=f"source:{source}",
                action=REFUSED,
                outcome=Unauthenticated.code,
                count=count,
                kind="refusal",
            )

    # -- sign-ins: a credential's first use in an hour, written off the request's path --

    def note_sign_in(self, principal: Principal, now_ms: int) -> None:
        """Called for every credential that passed, with the time the caller read; records
        `signIn` at the actor's first use in an hour (one dict lookup otherwise)."""
        actor = (principal.tenant, principal.key_id)
        marked = self._sign_in_marks.get(actor)  # the common case: this lookup, inline
        if marked is not None and now_ms - marked < self.sign_ins.every_ms:
            return
        if not self.sign_ins.is_new(actor, now_ms):
            return
        if len(self._writes) >= MAX_WRITES:
            self.sign_ins.forget(actor)
            self._metrics.failed.labels(reason="backlog").inc()
            return
        write = asyncio.create_task(
            self.record(
                tenant=principal.tenant,
                actor=principal.actor,
                action=SIGN_IN,
                target=principal.subject or principal.key_id,
                request_id=correlation_id.get(),
                kind="signin",
            ),
            name="audit-sign-in",
        )
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def settle(self) -> None:
        """Wait for the sign-ins being written (each within the store timeout)."""
        while self._writes:
            await asyncio.wait(set(self._writes))

    # -- reading --

    async def page(
        self,
        tenant: str,
        *,
        first: int,
        after: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        since_ms: int | None = None,
    ) -> AuditPage:
        """Newest first, the entries that match every filter given."""
        matched: list[AuditEntry] = []
        cursor = None if after is None else entry_id(after)
        scanned = 0
        while True:
            batch = await self._config.audit_entries(
                tenant, after=cursor, limit=SCAN_PAGE, newest_first=True
            )
            for stored_id, fields in batch:
                entry = AuditEntry.of(stored_id, fields)
                scanned += 1
                if since_ms is not None and entry.time_ms < since_ms:
                    return _page(matched, first, has_more=False, read_to=None)
                if (action is None or entry.action == action) and (
                    actor is None or entry.actor == actor
                ):
                    matched.append(entry)
                    if len(matched) > first:
                        return _page(matched, first, has_more=True, read_to=None)
            if len(batch) < SCAN_PAGE:
                return _page(matched, first, has_more=False, read_to=None)
            cursor = batch[-1][0]
            if scanned >= MAX_SCAN:
                return _page(matched, first, has_more=True, read_to=cursor)

    async def export(
        self, tenant: str, *, since_ms: int | None = None
    ) -> AsyncIterator[AuditEntry]:
        """Every entry of the tenant, oldest first (verifiable: each names its `prev`)."""
        cursor: str | None = None
        while True:
            batch = await self._config.audit_entries(tenant, after=cursor, limit=SCAN_PAGE)
            for stored_id, fields in batch:
                entry = AuditEntry.of(stored_id, fields)
                if since_ms is None or entry.time_ms >= since_ms:
                    yield entry
            if len(batch) < SCAN_PAGE:
                return
            cursor = batch[-1][0]

    # -- retention --

    async def trim(self) -> int:
        """Drop every tenant's entries older than the retention; how many."""
        if not self.retention_ms:
            return 0
        before = self._clock() - self.retention_ms
        dropped = 0
        for tenant in await self._config.audit_tenants():
            while True:
                n = await self._config.trim_audit(tenant, before, TRIM_BATCH)
                dropped += n
                if n < TRIM_BATCH:
                    break
        self._metrics.trimmed.inc(dropped)
        return dropped

    async def run(self) -> None:
        """Until cancelled: refusal summaries every minute, retention every hour."""
        loop = asyncio.get_running_loop()
        next_trim = loop.time()
        while True:
            try:
                if loop.time() >= next_trim:
                    next_trim = loop.time() + TRIM_EVERY_SECONDS
                    dropped = await self.trim()
                    if dropped:
                        log.info("audit retention dropped %d entries", dropped)
                await self.flush_refusals()
            except GatewayError as exc:
                log.warning("audit upkeep failed: %s", exc.message)
            await asyncio.sleep(FLUSH_SECONDS)

    async def stop(self) -> None:
        """Finish the sign-ins being written; write the refusals counted since the last
        summary."""
        await self.settle()
        with contextlib.suppress(GatewayError):
            await self.flush_refusals()


def _page(
    matched: list[AuditEntry], first: int, *, has_more: bool, read_to: str | None
) -> AuditPage:
    entries = matched[:first]
    end = read_to or (entries[-1].id if entries else None)
    return AuditPage(entries=entries, has_next=has_more, end_cursor=end)


async def verify(
    config: ConfigStore, tenant: str, kept_head: str | None = None
) -> tuple[int, Break | None]:
    """Walk the tenant's chain from its anchor past its head (and `kept_head`, a head
    saved away from the store, when given): entries checked, first break."""
    anchor, head = await config.audit_ends(tenant)
    walk = ChainWalk(anchor, head, kept_head)
    cursor: str | None = None
    while True:
        batch = await config.audit_entries(tenant, after=cursor, limit=SCAN_PAGE)
        broken = walk.feed(batch)
        if broken is not None:
            return walk.checked, broken
        if len(batch) < SCAN_PAGE:
            return walk.checked, walk.end()
        cursor = batch[-1][0]
