"""Root fields for KPIs, as bases of the root Query and Mutation types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.kpis.checks import MAX_KPIS
from analytics_gateway.resolvers import kpis as resolvers
from analytics_gateway.schema.alerts import Alert, Severity
from analytics_gateway.schema.kpis import Kpi, KpiInput, KpiReading

KPI_ID = strawberry.argument(description="KPI id.")


@strawberry.type(description="KPIs of the caller's tenant.")
class KpiQuery:
    @strawberry.field(description=f"Every KPI of the tenant, by name (at most {MAX_KPIS}).")
    async def kpis(self, info: Info) -> list[Kpi] | None:
        return await resolvers.resolve_kpis(info)

    @strawberry.field(
        description="One KPI over a range: value, comparison value, change, status and series, "
        "read in one batched call per backend. NOT_FOUND for an id this tenant does not have."
    )
    async def kpi(
        self,
        info: Info,
        id: Annotated[strawberry.ID, KPI_ID],
        last: Annotated[
            str | None,
            strawberry.argument(description='Range ending now, e.g. "24h"; default 1h.'),
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(
                name="from", description="Range start (inclusive); at most 366 days before `to`."
            ),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive); default now.")
        ] = None,
    ) -> KpiReading | None:
        return await resolvers.resolve_kpi(info, str(id), last, from_, to)


@strawberry.type(description="Create, change and delete KPIs (needs the write scope).")
class KpiMutation:
    @strawberry.mutation(description=f"Save a new KPI; a tenant holds at most {MAX_KPIS}.")
    async def create_kpi(
        self, info: Info, input: Annotated[KpiInput, strawberry.argument(description="The KPI.")]
    ) -> Kpi:
        return await resolvers.resolve_create_kpi(info, input)

    @strawberry.mutation(
        description="Replace a KPI's definition. `version` must be the version it was read at: "
        "if someone saved since, nothing changes and the error has code CONFLICT."
    )
    async def update_kpi(
        self,
        info: Info,
        id: Annotated[strawberry.ID, KPI_ID],
        version: Annotated[int, strawberry.argument(description="The version read.")],
        input: Annotated[KpiInput, strawberry.argument(description="New definition.")],
    ) -> Kpi:
        return await resolvers.resolve_update_kpi(info, str(id), version, input)

    @strawberry.mutation(description="Delete a KPI; NOT_FOUND if there is none.")
    async def delete_kpi(self, info: Info, id: Annotated[strawberry.ID, KPI_ID]) -> bool:
        return await resolvers.resolve_delete_kpi(info, str(id))

    @strawberry.mutation(
        description="An alert rule that fires while the KPI, computed over the trailing "
        "`window`, is off target (below it when higher is better, above it when lower is) "
        "for `for`, and resolves when it is back. An ordinary rule (labelled kpi=<id>): it "
        "can be read, updated, silenced, simulated. It holds the KPI's formula as it is now; "
        "KPIs with event counts cannot be alerted on."
    )
    async def create_kpi_alert(
        self,
        info: Info,
        kpi: Annotated[strawberry.ID, KPI_ID],
        for_: Annotated[
            str,
            strawberry.argument(name="for", description="How long it must stay off target."),
        ] = "1h",
        window: Annotated[
            str,
            strawberry.argument(
                description="The trailing range the KPI is computed over, at most 90d."
            ),
        ] = "1h",
        severity: Annotated[Severity, strawberry.argument(description="Severity.")] = (
            Severity.WARNING
        ),
        channels: Annotated[
            list[str] | None, strawberry.argument(description="Channel names to notify.")
        ] = None,
        name: Annotated[
            str | None,
            strawberry.argument(description='Name; default: "<KPI name> off target".'),
        ] = None,
    ) -> Alert:
        return await resolvers.resolve_create_kpi_alert(
            info, str(kpi), for_, window, severity, channels or [], name
        )
