"""KPIs stored as versioned per-tenant documents (kind `kpi`) in the ConfigStore.

As dashboards: every save bumps the version, and a save based on a stale
version raises `Conflict` instead of overwriting someone else's edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import NotFound, QuotaExceeded
from analytics_gateway.kpis.checks import MAX_KPIS, check_spec
from analytics_gateway.kpis.model import KpiDefinition, KpiSpec

KIND = "kpi"


def _definition(doc_id: str, version: int, doc: dict[str, Any]) -> KpiDefinition:
    return KpiDefinition.of(doc_id, version, KpiSpec.from_document(doc), doc.get("updatedAt", 0))


class KpiRepository:
    def __init__(self, store: ConfigStore, clock: Callable[[], int]) -> None:
        self._store = store
        self._clock = clock

    async def list(self, tenant: str) -> list[KpiDefinition]:
        docs = await self._store.list_documents(KIND, tenant)
        found = [_definition(doc_id, version, doc) for doc_id, version, doc in docs]
        return sorted(found, key=lambda k: (k.name.lower(), k.id))

    async def find(self, tenant: str, kpi_id: str) -> KpiDefinition | None:
        found = await self._store.get_document(KIND, tenant, kpi_id)
        return _definition(kpi_id, *found) if found else None

    async def get(self, tenant: str, kpi_id: str) -> KpiDefinition:
        definition = await self.find(tenant, kpi_id)
        if definition is None:
            raise NotFound(f"no KPI {kpi_id!r}", id=kpi_id)
        return definition

    async def create(self, tenant: str, spec: KpiSpec, held: int) -> KpiDefinition:
        """Store a new KPI; `held` is how many the tenant has (at most `MAX_KPIS`)."""
        check_spec(spec)
        if held >= MAX_KPIS:
            raise QuotaExceeded(f"a tenant holds at most {MAX_KPIS} KPIs", limit=MAX_KPIS)
        kpi_id = uuid.uuid4().hex[:12]
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": now, "updatedAt": now}
        version = await self._store.put_document(KIND, tenant, kpi_id, doc, 0)
        return KpiDefinition.of(kpi_id, version, spec, now)

    async def update(
        self, tenant: str, kpi_id: str, spec: KpiSpec, expected_version: int
    ) -> KpiDefinition:
        """Replace the definition if it is still at `expected_version` (else `Conflict`)."""
        check_spec(spec)
        found = await self._store.get_document(KIND, tenant, kpi_id)
        if found is None:
            raise NotFound(f"no KPI {kpi_id!r}", id=kpi_id)
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": found[1].get("createdAt", now), "updatedAt": now}
        version = await self._store.put_document(KIND, tenant, kpi_id, doc, expected_version)
        return KpiDefinition.of(kpi_id, version, spec, now)

    async def delete(self, tenant: str, kpi_id: str) -> bool:
        return await self._store.delete_document(KIND, tenant, kpi_id)
