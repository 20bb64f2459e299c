"""Dashboards stored as versioned per-tenant documents (kind `dashboard`) in the ConfigStore.

Every save bumps the version; a save based on a stale version raises
`Conflict` (code CONFLICT) instead of overwriting someone else's edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.dashboards.checks import check_spec
from analytics_gateway.dashboards.model import Dashboard, DashboardSpec
from analytics_gateway.errors import NotFound

KIND = "dashboard"


def _dashboard(doc_id: str, version: int, doc: dict[str, Any]) -> Dashboard:
    return Dashboard(doc_id, version, DashboardSpec.from_document(doc), doc.get("updatedAt", 0))


class DashboardRepository:
    def __init__(self, store: ConfigStore, clock: Callable[[], int]) -> None:
        self._store = store
        self._clock = clock

    async def list(self, tenant: str) -> list[Dashboard]:
        docs = await self._store.list_documents(KIND, tenant)
        dashboards = [_dashboard(doc_id, version, doc) for doc_id, version, doc in docs]
        return sorted(dashboards, key=lambda d: (d.spec.name.lower(), d.id))

    async def find(self, tenant: str, dashboard_id: str) -> Dashboard | None:
        found = await self._store.get_document(KIND, tenant, dashboard_id)
        return _dashboard(dashboard_id, *found) if found else None

    async def get(self, tenant: str, dashboard_id: str) -> Dashboard:
        dashboard = await self.find(tenant, dashboard_id)
        if dashboard is None:
            raise NotFound(f"no dashboard {dashboard_id!r}", id=dashboard_id)
        return dashboard

    async def create(self, tenant: str, spec: DashboardSpec) -> Dashboard:
        check_spec(spec)
        dashboard_id = uuid.uuid4().hex[:12]
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": now, "updatedAt": now}
        version = await self._store.put_document(KIND, tenant, dashboard_id, doc, 0)
        return Dashboard(dashboard_id, version, spec, now)

    async def update(
        self, tenant: str, dashboard_id: str, spec: DashboardSpec, expected_version: int
    ) -> Dashboard:
        """Replace the definition if it is still at `expected_version` (else `Conflict`)."""
        check_spec(spec)
        found = await self._store.get_document(KIND, tenant, dashboard_id)
        if found is None:
            raise NotFound(f"no dashboard {dashboard_id!r}", id=dashboard_id)
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": found[1].get("createdAt", now), "updatedAt": now}
        version = await self._store.put_document(KIND, tenant, dashboard_id, doc, expected_version)
        return Dashboard(dashboard_id, version, spec, now)

    async def delete(self, tenant: str, dashboard_id: str) -> bool:
        return await self._store.delete_document(KIND, tenant, dashboard_id)

    async def ensure(self, tenant: str, dashboard_id: str, spec: DashboardSpec) -> Dashboard:
        """Create the dashboard under a fixed id unless it exists (seeding)."""
        existing = await self.find(tenant, dashboard_id)
        if existing is not None:
            return existing
        check_spec(spec)
        now = self._clock()
        doc = {**spec.as_document(), "createdAt": now, "updatedAt": now}
        version = await self._store.put_document(KIND, tenant, dashboard_id, doc, 0)
        return Dashboard(dashboard_id, version, spec, now)
