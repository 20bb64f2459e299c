"""Reports stored as versioned per-tenant documents (kind `report`) in the ConfigStore,
and the state of their schedule (kind `report_run`: the last run that was sent).

Every save bumps the version; a save based on a stale version raises
`Conflict` (code CONFLICT) instead of overwriting someone else's edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import NotFound
from analytics_gateway.reports.model import Report, ReportSpec

KIND = "report"
RUN_KIND = "report_run"


def _report(doc_id: str, version: int, doc: dict[str, Any]) -> Report:
    return Report(
        doc_id,
        version,
        ReportSpec.from_document(doc),
        int(doc.get("createdAt", 0)),
        int(doc.get("updatedAt", 0)),
    )


class ReportRepository:
    def __init__(self, store: ConfigStore, clock: Callable[[], int]) -> None:
        self.store = store
        self._clock = clock

    async def list(self, tenant: str) -> list[Report]:
        docs = await self.store.list_documents(KIND, tenant)
        reports = [_report(doc_id, version, doc) for doc_id, version, doc in docs]
        return sorted(reports, key=lambda r: (r.spec.name.lower(), r.id))

    async def get(self, tenant: str, report_id: str) -> Report:
        found = await self.store.get_document(KIND, tenant, report_id)
        if found is None:
            raise NotFound(f"no report {report_id[:100]!r}", id=report_id[:100])
        return _report(report_id, *found)

    async def create(self, tenant: str, spec: ReportSpec) -> Report:
        report_id = uuid.uuid4().hex[:12]
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": now, "updatedAt": now}
        version = await self.store.put_document(KIND, tenant, report_id, doc, 0)
        return Report(report_id, version, spec, now, now)

    async def update(
        self, tenant: str, report_id: str, spec: ReportSpec, expected_version: int
    ) -> Report:
        """Replace the definition if it is still at `expected_version` (else `Conflict`)."""
        current = await self.get(tenant, report_id)
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": current.created_at_ms, "updatedAt": now}
        version = await self.store.put_document(KIND, tenant, report_id, doc, expected_version)
        return Report(report_id, version, spec, current.created_at_ms, now)

    async def delete(self, tenant: str, report_id: str) -> bool:
        deleted = await self.store.delete_document(KIND, tenant, report_id)
        await self.store.delete_document(RUN_KIND, tenant, report_id)
        return deleted

    async def tenants(self) -> Sequence[str]:
        return await self.store.document_tenants(KIND)

    async def last_run(self, tenant: str, report_id: str) -> tuple[int, int]:
        """(version of the run document, the last run sent, epoch ms; 0 when none)."""
        found = await self.store.get_document(RUN_KIND, tenant, report_id)
        if found is None:
            return 0, 0
        return found[0], int(found[1].get("lastRunMs", 0))

    async def mark_run(self, tenant: str, report_id: str, run_ms: int, version: int) -> int:
        """Record `run_ms` as sent, if nobody did since `version` was read (else `Conflict`)."""
        doc = {"lastRunMs": run_ms, "at": self._clock()}
        return await self.store.put_document(RUN_KIND, tenant, report_id, doc, version)
