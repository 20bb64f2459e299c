"""Root fields for business reports, as bases of the root Query and Mutation types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import reports as resolvers
from analytics_gateway.schema.reports import (
    BOUNDS,
    GeneratedReport,
    Report,
    ReportInput,
    ReportWindow,
)

ID_ARG = strawberry.argument(description="Report id.")


@strawberry.type(description="Business reports of the caller's tenant.")
class ReportQuery:
    @strawberry.field(description=f"Every report of the tenant, by name. {BOUNDS}")
    async def reports(self, info: Info) -> list[Report] | None:
        return await resolvers.resolve_reports(info)

    @strawberry.field(description="One report; NOT_FOUND for an id this tenant does not have.")
    async def report(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> Report | None:
        return await resolvers.resolve_report(info, str(id))

    @strawberry.field(
        description="Generate a report now over `from`/`to` (at most 31 days, on whole "
        "minutes) or its last complete period: KPI values, insights, HTML and PDF. Reads "
        "each panel over the period and the four before it (for anomalies and the "
        "forecast)."
    )
    async def generate_report(
        self,
        info: Info,
        id: Annotated[strawberry.ID, ID_ARG],
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Period start (inclusive), with to."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Period end (exclusive).")
        ] = None,
        period: Annotated[
            ReportWindow | None,
            strawberry.argument(description="LAST (the default when from/to are not given)."),
        ] = None,
    ) -> GeneratedReport | None:
        return await resolvers.resolve_generate(info, str(id), from_, to, period)


@strawberry.type(description="Create, change and delete reports (needs the write scope).")
class ReportMutation:
    @strawberry.mutation(description=f"A new report. {BOUNDS}")
    async def create_report(
        self,
        info: Info,
        input: Annotated[ReportInput, strawberry.argument(description="The definition.")],
    ) -> Report:
        return await resolvers.resolve_create(info, input)

    @strawberry.mutation(
        description="Replace a report's definition. `version` must be the version it was "
        "read at: if someone saved since, nothing changes and the error has code CONFLICT."
    )
    async def update_report(
        self,
        info: Info,
        id: Annotated[strawberry.ID, ID_ARG],
        version: Annotated[int, strawberry.argument(description="The version read.")],
        input: Annotated[ReportInput, strawberry.argument(description="New definition.")],
    ) -> Report:
        return await resolvers.resolve_update(info, str(id), version, input)

    @strawberry.mutation(description="Delete a report; NOT_FOUND if there is none.")
    async def delete_report(self, info: Info, id: Annotated[strawberry.ID, ID_ARG]) -> bool:
        return await resolvers.resolve_delete(info, str(id))
