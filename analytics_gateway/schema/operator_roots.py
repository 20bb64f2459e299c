"""Root fields for the operator: log levels for a while, profiles of the process.

Resolvers stay thin: the operator check, then `operator.log_levels` and
`operator.profiling` do the work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from analytics_gateway import durations
from analytics_gateway.context import Info
from analytics_gateway.operator import require_operator
from analytics_gateway.operator.log_levels import checked

PROFILE_ROUTE = "/debug/profiles/{id}"
LEVEL = "DEBUG, INFO, WARNING, ERROR or CRITICAL."


@strawberry.type(description="A log level in force on every replica until `until`.")
class LogLevelChange:
    logger: str = strawberry.field(description="The logger's dotted name, or root.")
    level: str = strawberry.field(description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    until: datetime = strawberry.field(description="When every replica puts it back.")


@strawberry.type(description="A profile of the process (its event loop's thread).")
class ProcessProfile:
    id: strawberry.ID = strawberry.field(description="Names the file at `path`.")
    seconds: float = strawberry.field(description="How long the process was sampled.")
    samples: int = strawberry.field(description="Stacks sampled, one per millisecond at most.")
    path: str = strawberry.field(
        description="Where the operator listener serves it: a speedscope file "
        "(https://www.speedscope.app), kept for the last 5 profiles."
    )


@strawberry.type
class OperatorMutation:
    @strawberry.mutation(
        description="Set a logger's level on every replica (within a few seconds) for `ttl`, "
        "then put it back (operator: an admin key of ANALYTICS_SELF_TENANT)."
    )
    async def set_log_level(
        self,
        info: Info,
        logger: Annotated[
            str, strawberry.argument(description="e.g. analytics_gateway.access, or root.")
        ],
        level: Annotated[
            str, strawberry.argument(description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
        ],
        ttl: Annotated[str, strawberry.argument(description="How long, 1s to 24h.")] = "10m",
    ) -> LogLevelChange:
        services = info.context.services
        require_operator(info.context.principal, services.settings)
        change = checked(
            logger, level, durations.parse_duration_ms(ttl, field="ttl"), services.clock()
        )
        await services.log_levels.change(change)
        until = datetime.fromtimestamp(change.until_ms / 1000, tz=UTC)
        return LogLevelChange(logger=change.logger, level=change.level, until=until)

    @strawberry.mutation(
        description="Sample the process for `seconds` (at most 60, one profile at a time) "
        "and keep the result as a speedscope file (operator only)."
    )
    async def profile(
        self,
        info: Info,
        seconds: Annotated[float, strawberry.argument(description="How long to sample.")] = 10.0,
    ) -> ProcessProfile:
        services = info.context.services
        require_operator(info.context.principal, services.settings)
        recorded = await services.profiles.record(seconds)
        return ProcessProfile(
            id=strawberry.ID(recorded.id),
            seconds=recorded.seconds,
            samples=recorded.samples,
            path=PROFILE_ROUTE.format(id=recorded.id),
        )
