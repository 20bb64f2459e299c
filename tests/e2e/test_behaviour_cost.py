"""Behaviour reads are costed like metric reads: one point per event of the tenant in
their range, counted before they run, reported in `extensions.cost`, and drawn from the
same per-request limit and per-second budget. A cached answer costs nothing.

Before, they cost nothing: a hundred aliased `sessions` in one request ran in 5 s.
Runs on both backends (`--backends production`: Elasticsearch counts the events).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from tests.conftest import (
    GraphQLClient,
    backend_calls,
    make_settings,
    new_key,
    serving,
    started,
)
from tests.e2e.test_behaviour_cache import DAY_MS, FIELDS, iso, record, visit
from tests.graphql_ws import GraphQLWS

FEATURES = "query($from: DateTime, $to: DateTime) { userFeatures(from: $from, to: $to) { userId } }"


@contextlib.asynccontextmanager
async def tenants(
    tmp_path: Path, registry: CollectorRegistry | None = None, **settings: Any
) -> AsyncIterator[tuple[str, GraphQLClient, GraphQLClient]]:
    """A served gateway and its address, with clients for tenants acme and other."""
    config = make_settings(tmp_path / "data", **settings)
    keys = [await new_key(config, tenant) for tenant in ("acme", "other")]
    app = create_app(config, registry=registry or CollectorRegistry())
    async with (
        started(app),
        serving(app, lifespan=False) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=60) as http,
    ):
        acme, other = (GraphQLClient(http, key) for key in keys)
        yield address, acme, other


async def seeded(acme: GraphQLClient, other: GraphQLClient) -> tuple[dict[str, str], int]:
    """A past range holding 24 of acme's events (6 visits of 4); acme has 4 more after it,
    and other has 40 in it. The range, and acme's events in it."""
    day0 = int(datetime.now(UTC).timestamp() * 1000) // DAY_MS * DAY_MS - 10 * DAY_MS
    span = {"from": iso(day0), "to": iso(day0 + 5 * DAY_MS)}
    inside = [e for u in range(6) for e in visit(f"u{u}", day0 + u * 17 * 3_600_000)]
    await record(acme, [*inside, *visit("late", day0 + 6 * DAY_MS)])
    await record(other, [e for u in range(10) for e in visit(f"o{u}", day0 + u * 3_600_000)])
    return span, len(inside)


def field_query(field: str, alias: str = "") -> str:
    return f"{alias}{FIELDS[field][0]}"


async def test_each_behaviour_read_costs_the_events_of_its_range_once(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    async with tenants(tmp_path, registry) as (_, acme, other):
        span, events = await seeded(acme, other)
        for field in FIELDS:
            query = f"query($from: DateTime, $to: DateTime) {{ {field_query(field)} }}"
            counted = backend_calls(registry, operation="events_in_range")
            first = await acme.execute(query, span)
            assert "errors" not in first, first
            assert first["extensions"]["cost"]["points"] == events, field
            assert backend_calls(registry, operation="events_in_range") == counted + 1
            again = await acme.execute(query, span)
            assert again["extensions"]["cost"]["points"] == 0, field  # from the cache
            assert backend_calls(registry, operation="events_in_range") == counted + 1
        features = await acme.execute(FEATURES, span)
        assert "errors" not in features, features
        assert features["extensions"]["cost"]["points"] == events


async def test_aliased_behaviour_reads_past_the_request_limit_are_refused(
    tmp_path: Path,
) -> None:
    async with tenants(tmp_path, quotas="query_points=100") as (_, acme, other):
        span, events = await seeded(acme, other)  # 24 events: four reads fit, five do not
        fields = " ".join(
            f's{i}: sessions(gap: "{i + 1}m", from: $from, to: $to) {{ count }}' for i in range(5)
        )
        body = await acme.execute(f"query($from: DateTime, $to: DateTime) {{ {fields} }}", span)
        codes = [e["extensions"]["code"] for e in body["errors"]]
        assert codes == ["QUERY_TOO_COMPLEX"], body["errors"]
        assert "more than the 100 allowed per request" in body["errors"][0]["message"]
        assert body["extensions"]["cost"]["points"] == 4 * events
        answered = [body["data"][f"s{i}"] for i in range(5)]
        assert sum(a is not None for a in answered) == 4


async def test_behaviour_reads_over_rest_and_websocket_draw_on_the_same_budget(
    tmp_path: Path,
) -> None:
    quotas = "query_points_per_second=0.01,query_point_burst=50"
    async with tenants(tmp_path, quotas=quotas) as (address, acme, other):
        span, events = await seeded(acme, other)  # 24: two uncached reads fit, not three
        query = f"query($from: DateTime, $to: DateTime) {{ {field_query('sessions')} }}"
        assert (await acme.execute(query, span))["extensions"]["cost"]["points"] == events
        ws = await GraphQLWS.open(
            f"ws://{address}/graphql", {"Authorization": f"Bearer {acme.key}"}
        )
        try:
            await ws.ack()
            await ws.subscribe(FIELDS_QUERY_NEXT, span)
            over_ws = (await ws.next_data())["payload"]
        finally:
            await ws.close()
        assert over_ws["extensions"]["cost"]["points"] == events
        refused = await acme.http.get(
            "/analytics/behaviour/sessions",
            params={"from": span["from"], "to": span["to"], "gap": "7m"},
            headers={"Authorization": f"Bearer {acme.key}"},
        )
        assert refused.status_code == 429, refused.text
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # the neighbour's budget is its own
        assert (await other.execute(query, span))["extensions"]["cost"]["points"] == 40


FIELDS_QUERY_NEXT = (
    'query($from: DateTime, $to: DateTime) { nextEvents(after: "sign_up", from: $from, '
    "to: $to) { eventType } }"
)
