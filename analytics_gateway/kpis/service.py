"""`KpiService`: stored KPIs and their values over a range.

Every reader goes through it: the GraphQL `kpis`/`kpi` fields, dashboard
widgets that show a saved KPI, KPI alerts and reports. A value is read
through the request's dataloaders (one batch per backend, the shared query
cache), so a KPI costs what the same formula costs on a dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.keyed_locks import KeyedLocks
from analytics_gateway.kpis import evaluate
from analytics_gateway.kpis.model import KpiDefinition, KpiSpec, KpiValue
from analytics_gateway.kpis.repository import KpiRepository
from analytics_gateway.quotas import Quotas

LoaderFactory = Callable[[str], Loaders]
"""Fresh loaders for a tenant's read (a reader without a request of its own)."""


class KpiService:
    def __init__(
        self,
        config: ConfigStore,
        clock: Callable[[], int],
        loaders: LoaderFactory,
        quotas: Quotas | None = None,
    ) -> None:
        self.repository = KpiRepository(config, clock)
        self._clock = clock
        self._loaders = loaders
        self._quotas = quotas
        self._creating = KeyedLocks()

    async def definitions(self, tenant: str) -> list[KpiDefinition]:
        """The tenant's KPIs, by name."""
        return await self.repository.list(tenant)

    async def get(self, tenant: str, kpi_id: str) -> KpiDefinition:
        """One KPI of the tenant (NotFound if it has none by that id)."""
        return await self.repository.get(tenant, kpi_id)

    async def create(self, tenant: str, spec: KpiSpec) -> KpiDefinition:
        async with self._creating.hold(tenant):  # the count holds until the KPI is stored
            held = len(await self.repository.list(tenant))
            return await self.repository.create(tenant, spec, held)

    async def update(
        self, tenant: str, kpi_id: str, spec: KpiSpec, expected_version: int
    ) -> KpiDefinition:
        return await self.repository.update(tenant, kpi_id, spec, expected_version)

    async def delete(self, tenant: str, kpi_id: str) -> bool:
        return await self.repository.delete(tenant, kpi_id)

    async def channels(self, tenant: str, kpi_id: str) -> list[tuple[str, Mapping[str, str]]]:
        """Where new data of the KPI's metrics and events is announced (live widgets);
        none for a KPI the tenant does not have."""
        definition = await self.repository.find(tenant, kpi_id)
        return [] if definition is None else evaluate.channels(tenant, definition)

    async def evaluate(
        self,
        tenant: str,
        kpi_id: str,
        start_ms: int,
        end_ms: int,
        loaders: Loaders | None = None,
    ) -> KpiValue:
        """The KPI over [start_ms, end_ms), its comparison period, change, status and series.

        `loaders` are the caller's request loaders; without them the read gets fresh ones.
        """
        definition = await self.get(tenant, kpi_id)
        return await self.evaluate_definition(tenant, definition, start_ms, end_ms, loaders)

    async def evaluate_definition(
        self,
        tenant: str,
        definition: KpiDefinition,
        start_ms: int,
        end_ms: int,
        loaders: Loaders | None = None,
    ) -> KpiValue:
        """As `evaluate`, for a definition already read."""
        window = evaluate.window(start_ms, end_ms)
        chosen = loaders if loaders is not None else self._loaders(tenant)
        return await evaluate.kpi_value(tenant, definition, window, chosen)
