"""What a request's metric reads cost, in estimated points, known before they run.

A query's cost is the series its name and labels match times the points it
reads per series: one per step bucket its range touches, one for an
aggregate over the whole range, and for raw points one per
`RAW_POINT_INTERVAL_MS` of range (the store does not know how dense a
series is until it reads it). Answers from the query cache read nothing and
cost nothing; PromQL sent to Prometheus is bounded there (`query.max-samples`).

Behaviour reads (retention, funnels, sessions, paths, new users, engagement,
segments, churn risk) scan events, not series: each costs one point per event
of the tenant in its range, counted before it runs (`events_read`); answers
from the cache cost nothing. They draw on the same budget, so aliasing a
hundred of them into one request is refused like any other request too big.

Each request adds its queries' costs up against the tenant's `query_points`
quota (refused as QUERY_TOO_COMPLEX, naming the cost and the limit) and draws
them from the tenant's `query_points_per_second` bucket (RATE_LIMITED), so
neither one huge query nor a flood of medium ones can take every core. The
total is reported in `extensions.cost` of every GraphQL response. The request
being answered finds its `QueryCost` with `current()` (bound by `costing`):
the behaviour functions are shared by GraphQL and REST, and take no cost
argument.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from contextvars import ContextVar

from analytics_gateway.domain import MetricQuery
from analytics_gateway.errors import GatewayError, QueryTooComplex
from analytics_gateway.quotas import Quotas

RAW_POINT_INTERVAL_MS = 10_000
# a read costing this much or more is heavy: tens of milliseconds of the store on
# every core, so a tenant runs `heavy_reads` of them at once (quotas)
HEAVY_READ_POINTS = 50_000
# a read costing less, over no more series, is light: its series are counted and its
# points read in one store call (`MetricStore.read_if_light`), and charged before it is
# answered; wider reads are counted first, for their cost and for the time a read
# over many series is granted (`read_budget`), which a light read never needs
LIGHT_READ_POINTS = 10_000
LIGHT_READ_SERIES = 1_000


def is_light(queries: Sequence[MetricQuery], series: Sequence[int]) -> bool:
    """Whether a read may be counted and read in one store call (see above)."""
    return sum(series) <= LIGHT_READ_SERIES and estimate(queries, series) < LIGHT_READ_POINTS


def points_per_series(query: MetricQuery) -> int:
    if query.step_ms:
        last_bucket = (query.end_ms - 1) // query.step_ms
        return max(last_bucket - query.start_ms // query.step_ms + 1, 1)
    if query.aggregation is not None or query.group_by is not None:
        return 1
    return max(-(-(query.end_ms - query.start_ms) // RAW_POINT_INTERVAL_MS), 1)


def estimate(queries: Sequence[MetricQuery], series: Sequence[int]) -> int:
    """Points `queries` read, given how many series each matches."""
    return sum(n * points_per_series(q) for q, n in zip(queries, series, strict=True))


_current: ContextVar[QueryCost | None] = ContextVar("query_cost", default=None)


def current() -> QueryCost | None:
    """The cost of the request being answered in this task, if it is costed."""
    return _current.get()


def bind(cost: QueryCost | None) -> None:
    """Make `cost` the current one for the rest of this task (a request's own task)."""
    _current.set(cost)


@contextmanager
def costing(cost: QueryCost | None) -> Iterator[None]:
    """`cost` as the current one inside (an operation sharing its task's context)."""
    token = _current.set(cost)
    try:
        yield
    finally:
        _current.reset(token)


async def charge_events(
    tenant: str, count: Callable[[], Awaitable[int]], cost: QueryCost | None = None
) -> int:
    """Charge a behaviour read of `tenant`'s events, `count()` of them, to the current
    request (or `cost`), before it runs, and say how many; nothing (0) when the
    request is not costed."""
    cost = cost if cost is not None else current()
    if cost is None or cost.tenant != tenant:
        return 0
    await cost.has_budget()
    points = await count()
    await cost.charge(points)
    return points


@asynccontextmanager
async def events_read(tenant: str, count: Callable[[], Awaitable[int]]) -> AsyncIterator[None]:
    """A behaviour read of `tenant`'s events runs inside: charged first
    (`charge_events`), and holding one of the tenant's heavy-read slots when heavy."""
    cost = current()
    points = await charge_events(tenant, count, cost)
    async with nullcontext() if cost is None else cost.reading(points):
        yield


class QueryCost:
    """One request's running total, checked each time it grows."""

    def __init__(self, tenant: str, quotas: Quotas) -> None:
        self.tenant = tenant
        self._quotas = quotas
        self.points = 0
        self._deposit = 0  # taken from the bucket ahead of `charge`

    async def has_budget(self) -> None:
        """Refuse (RATE_LIMITED) before counting series when the bucket is empty, or
        while the tenant's last refused charge says to wait (a bucket refilling at
        250,000 points a second always holds the one point taken here): a tenant
        flooding past its budget then costs no store reads at all. The point this
        takes is part of what `charge` takes next."""
        if not self._deposit:
            # a tenant refused a moment ago waits it out without a bucket call
            self._quotas.refuse_while_waiting(self.tenant, "query_point_burst")
            await self._quotas.admit_query_points(self.tenant, 1)
            self._deposit = 1

    async def charge(self, points: int) -> None:
        limit = (await self._quotas.of(self.tenant)).query_points
        total = self.points + points
        if total > limit:
            raise QueryTooComplex(
                f"this request would read about {total} points, more than the {limit} "
                "allowed per request; use a shorter range, a coarser step or fewer series",
                cost=total,
                limit=limit,
            )
        # counted before the bucket is asked (an await): charges running side by side,
        # as aliased behaviour reads do, must each see the others' points
        self.points = total
        owed = max(0, points - self._deposit)
        self._deposit = max(0, self._deposit - points)
        try:
            await self._quotas.admit_query_points(self.tenant, owed)
        except GatewayError:
            self.points -= points
            raise

    def reading(self, points: int) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's heavy-read slots around a read of `points`, when it
        is heavy; a lighter read runs at once."""
        if points < HEAVY_READ_POINTS:
            return nullcontext()
        return self._quotas.reading_heavy(self.tenant)

    async def report(self) -> dict[str, int]:
        """What `extensions.cost` says: points read so far and the per-request limit."""
        limit = (await self._quotas.of(self.tenant)).query_points
        return {"points": self.points, "limit": limit}
