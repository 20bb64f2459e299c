"""A query's cost is known before it runs, reported on every response, and budgeted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.query_cost import RAW_POINT_INTERVAL_MS
from tests.conftest import (
    GraphQLClient,
    asgi_transport,
    backend_calls,
    make_settings,
    new_key,
    serving,
    started,
)
from tests.graphql_ws import GraphQLWS

HOUR_MS = 3_600_000
INGEST = """mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }"""
QUERY = """query($q: MetricQuery!) { metrics(query: $q) { labels } }"""


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@contextlib.asynccontextmanager
async def tenants(
    tmp_path: Path, registry: CollectorRegistry | None = None, **settings: Any
) -> AsyncIterator[tuple[GraphQLClient, ...]]:
    config = make_settings(tmp_path / "data", **settings)
    keys = [await new_key(config, tenant) for tenant in ("acme", "other")]
    async with started(create_app(config, registry=registry or CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield tuple(GraphQLClient(http, key) for key in keys)


async def seed(acme: GraphQLClient, other: GraphQLClient, start_ms: int) -> None:
    """acme: 3 series of `m` and one of `n`; other: 5 series of `m` (never acme's cost)."""

    def points(hosts: str, name: str = "m") -> list[dict[str, Any]]:
        return [
            {"name": name, "value": 1.0, "labels": {"host": h}, "timestamp": iso(start_ms)}
            for h in hosts
        ]

    for client, batch in (
        (acme, points("abc") + points("a", "n")),
        (other, points("abcde")),
    ):
        body = await client.execute(INGEST, {"p": batch})
        assert body["data"]["ingestMetrics"]["accepted"] == len(batch), body


def hour_ago() -> int:
    """The start of an hour that ended a while ago: a range from it is aligned and
    in the past, long enough for the query cache to keep its answer."""
    now = int(time.time() * 1000)
    hours_back = 2 if now % HOUR_MS < 60_000 else 1
    return (now // HOUR_MS - hours_back) * HOUR_MS


async def cost_of(client: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    body = await client.execute(query, variables)
    assert "errors" not in body, body
    return body["extensions"]["cost"]


async def test_cost_is_matching_series_times_points_per_series(tmp_path: Path) -> None:
    start = hour_ago()
    async with tenants(tmp_path, cache_ttl_seconds=0) as (acme, other):
        await seed(acme, other, start)
        hour = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS)}
        stepped = await cost_of(acme, QUERY, {"q": {**hour, "step": "1m"}})
        assert stepped == {"points": 3 * 60, "limit": 2_000_000}
        one_host = {**hour, "step": "1m", "labels": {"host": "b"}}
        assert (await cost_of(acme, QUERY, {"q": one_host}))["points"] == 60
        whole = {**hour, "aggregation": "MAX"}
        assert (await cost_of(acme, QUERY, {"q": whole}))["points"] == 3
        raw = await cost_of(acme, QUERY, {"q": hour})
        assert raw["points"] == 3 * HOUR_MS // RAW_POINT_INTERVAL_MS
        # fields of one request add up; other tenants' series never count
        two = """query($a: MetricQuery!, $b: MetricQuery!) {
          a: metrics(query: $a) { labels } b: metrics(query: $b) { labels } }"""
        both = await cost_of(
            acme, two, {"a": {**hour, "step": "1m"}, "b": {**hour, "name": "n", "step": "5m"}}
        )
        assert both["points"] == 3 * 60 + 12
        assert (await cost_of(other, QUERY, {"q": {**hour, "step": "1m"}}))["points"] == 5 * 60
        # no metric read: still reported
        assert (await cost_of(acme, "{ metricNames }", {}))["points"] == 0
        nothing = await cost_of(acme, QUERY, {"q": {**hour, "name": "absent", "step": "1m"}})
        assert nothing["points"] == 0


async def test_an_answer_from_the_query_cache_reads_nothing(tmp_path: Path) -> None:
    start = hour_ago()
    async with tenants(tmp_path) as (acme, other):
        await seed(acme, other, start)
        q = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"}
        assert (await cost_of(acme, QUERY, {"q": q}))["points"] == 180
        assert (await cost_of(acme, QUERY, {"q": q}))["points"] == 0


async def test_a_request_over_its_budget_is_refused_before_it_reads(tmp_path: Path) -> None:
    start = hour_ago()
    async with tenants(tmp_path, quotas="query_points=100", cache_ttl_seconds=0) as (acme, other):
        await seed(acme, other, start)
        q = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"}
        body = await acme.execute(QUERY, {"q": q})
        assert body["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": 180,
            "limit": 100,
        }
        assert "about 180 points" in body["errors"][0]["message"]
        assert body["extensions"]["cost"] == {"points": 0, "limit": 100}
        coarser = {**q, "step": "10m"}
        assert (await cost_of(acme, QUERY, {"q": coarser}))["points"] == 18


async def test_a_tenant_reading_too_much_per_second_is_rate_limited(tmp_path: Path) -> None:
    start = hour_ago()
    quotas = "query_points_per_second=0.01,query_point_burst=350"
    async with tenants(tmp_path, quotas=quotas, cache_ttl_seconds=0) as (acme, other):
        await seed(acme, other, start)
        q = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"}
        assert (await cost_of(acme, QUERY, {"q": q}))["points"] == 180
        refused = await acme.execute(QUERY, {"q": q})
        error = refused["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == 1000  # 10 points short at 0.01/s
        assert (await cost_of(other, QUERY, {"q": q}))["points"] == 300  # its own bucket


@contextlib.asynccontextmanager
async def burst_spent(
    tmp_path: Path, rate: str
) -> AsyncIterator[tuple[GraphQLClient, GraphQLClient, dict[str, str], CollectorRegistry]]:
    """acme, other, a 180-point query, the registry: acme's burst of 180 spent on it."""
    start = hour_ago()
    quotas = f"query_points_per_second={rate},query_point_burst=180"
    registry = CollectorRegistry()
    async with tenants(tmp_path, registry, quotas=quotas, cache_ttl_seconds=0) as (acme, other):
        await seed(acme, other, start)
        q = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"}
        assert (await cost_of(acme, QUERY, {"q": q}))["points"] == 180  # the whole burst
        yield acme, other, q, registry


def store_calls(registry: CollectorRegistry) -> tuple[int, int, int]:
    """Store calls so far: all of them, reads of points, and counts of series in a call
    of their own (a light read counts its series in its read's call where the store can,
    in a call of their own elsewhere)."""
    return (
        backend_calls(registry),
        backend_calls(registry, None, "query_points"),
        backend_calls(registry, None, "series_count"),
    )


def calls_since(registry: CollectorRegistry, before: tuple[int, int, int]) -> tuple[int, int]:
    """Reads and separate counts since `before`; nothing else was asked of a store."""
    now = store_calls(registry)
    every, reads, counts = (n - b for n, b in zip(now, before, strict=True))
    assert every == reads + counts
    return reads, counts


async def test_a_tenant_with_an_empty_bucket_is_refused_before_its_series_are_counted(
    tmp_path: Path,
) -> None:
    async with burst_spent(tmp_path, "0.01") as (acme, other, q, registry):
        before = store_calls(registry)
        refused = await acme.execute(QUERY, {"q": q})
        assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert calls_since(registry, before) == (0, 0)  # no store call at all
        assert (await cost_of(other, QUERY, {"q": {**q, "step": "10m"}}))["points"] == 30
        reads, counts = calls_since(registry, before)
        assert reads == 1
        assert counts <= 1


async def test_a_tenant_refused_for_its_read_rate_waits_it_out_without_counting_series(
    tmp_path: Path,
) -> None:
    """A bucket refilling at 100 points a second always holds the one point taken before
    series are counted: without remembering the refusal, every request of a flood would
    count its series (a store call each) before being refused."""
    async with burst_spent(tmp_path, "100") as (acme, other, q, registry):
        before = store_calls(registry)
        for _ in range(2):  # the second answer held for most of the wait (a second)
            assert 1 <= await refused_for_rate(acme, QUERY, {"q": q}) <= 2
        # one count at most (and the light read it came with): the refusal of the whole
        # charge (the first may come sooner, from an empty bucket, with a wait of
        # milliseconds); the other is refused from memory until the wait it gave is over
        reads, counts = calls_since(registry, before)
        assert reads <= 1
        assert counts <= 1
        assert (await cost_of(other, QUERY, {"q": {**q, "step": "10m"}}))["points"] == 30
        # the wait is over within two seconds (180 points at 100/s): served again
        assert (await served_after_the_wait(acme, QUERY, {"q": q}))["cost"]["points"] == 180


async def refused_for_rate(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None
) -> int:
    """The wait (s) a RATE_LIMITED refusal names: in the GraphQL answer when the refusal
    came from the read's charge, as HTTP 429 when the request was refused before any
    GraphQL work (Retry-After says the same)."""
    response = await client.post(query, variables)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED", response.text
    wait: int = error["extensions"]["retryAfter"]
    if response.status_code == 429:
        assert response.headers["retry-after"] == str(wait)
    else:
        assert response.status_code == 200, response.text
    return wait


async def served_after_the_wait(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The answer's extensions, once the tenant is served again (refused until then)."""
    deadline = time.monotonic() + 60
    while True:
        response = await client.post(query, variables)
        body = response.json()
        if "errors" not in body:
            assert response.status_code == 200, response.text
            extensions: dict[str, Any] = body["extensions"]
            return extensions
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED", body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_a_tenant_told_to_wait_for_its_read_rate_is_refused_any_request_until_then(
    tmp_path: Path,
) -> None:
    """Refused for its query-point rate, a tenant's next GraphQL requests (any operation:
    it was told to wait) and REST reads are refused before any GraphQL work or key
    lookup, as 429 with Retry-After, until the wait is over; its writes over REST go on,
    and its neighbour is served throughout. A flood of refused reads then costs the
    gateway what a refused request costs, not a GraphQL execution each."""
    async with burst_spent(tmp_path, "0.05") as (acme, other, q, registry):
        assert acme.key is not None
        assert await refused_for_rate(acme, QUERY, {"q": q}) > 1  # the charge: in GraphQL
        before = store_calls(registry)
        viewer = await acme.post("{ viewer }")
        assert viewer.status_code == 429, viewer.text
        assert viewer.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(viewer.headers["retry-after"]) > 1
        params = {"name": "m", "from": iso(hour_ago()), "to": iso(hour_ago() + HOUR_MS)}
        auth = {"Authorization": f"Bearer {acme.key}"}
        rest = await acme.http.get(
            "/analytics/metrics/aggregated", params={**params, "step": "1m"}, headers=auth
        )
        assert rest.status_code == 429, rest.text
        # the same wait, less the second the `{ viewer }` answer was held (two if the
        # machine stalled)
        told = int(viewer.headers["retry-after"])
        assert told - 3 <= int(rest.headers["retry-after"]) < told
        assert calls_since(registry, before) == (0, 0)  # nothing counted or read
        written = await acme.http.post(
            "/write", content=f"w v=1 {int(time.time() * 1000)}", params={"precision": "ms"},
            headers=auth,
        )  # fmt: skip
        assert written.status_code == 204, written.text
        assert (await other.execute("{ viewer }"))["data"]["viewer"]
        assert (await cost_of(other, QUERY, {"q": {**q, "step": "10m"}}))["points"] == 30


async def test_a_tenant_served_again_once_its_read_rate_wait_is_over(tmp_path: Path) -> None:
    async with burst_spent(tmp_path, "100") as (acme, _, q, _registry):
        # the bucket holds the point taken before series are counted (10 ms at 100/s):
        # the refusal is then the charge's, with a wait of most of two seconds, not one
        # of 10 ms, over before the next request
        await asyncio.sleep(0.05)
        assert 1 <= await refused_for_rate(acme, QUERY, {"q": q}) <= 2
        assert (await acme.post("{ viewer }")).status_code == 429
        assert (await served_after_the_wait(acme, "{ viewer }")) is not None
        assert (await served_after_the_wait(acme, QUERY, {"q": q}))["cost"]["points"] == 180


async def test_each_operation_over_a_websocket_is_costed_on_its_own(tmp_path: Path) -> None:
    """A WebSocket connection has one context for all its operations: its reads were not
    costed at all (the caller is known only after `connection_init`), so a tenant could
    read past its budget over a WebSocket."""
    start = hour_ago()
    quotas = "query_points_per_second=0.01,query_point_burst=400"
    config = make_settings(tmp_path / "data", quotas=quotas, cache_ttl_seconds=0)
    keys = [await new_key(config, tenant) for tenant in ("acme", "other")]
    app = create_app(config, registry=CollectorRegistry())
    async with (
        started(app),
        serving(app, lifespan=False) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        acme, other = (GraphQLClient(http, key) for key in keys)
        await seed(acme, other, start)
        q = {"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"}
        ws = await GraphQLWS.open(f"ws://{address}/graphql", {"Authorization": f"Bearer {keys[0]}"})
        try:
            await ws.ack()
            answers = []
            for _ in range(3):  # 180 points each, 400 in the bucket: the third is refused
                op = await ws.subscribe(QUERY, {"q": q})
                answers.append((await ws.next_data())["payload"])
                assert await ws.receive() == {"id": op, "type": "complete"}
        finally:
            await ws.close()
        assert [a["extensions"]["cost"]["points"] for a in answers[:2]] == [180, 180]
        assert "errors" not in answers[0]
        assert "errors" not in answers[1]
        assert answers[2]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert (await cost_of(other, QUERY, {"q": q}))["points"] == 300  # its own bucket


async def test_rest_reads_say_their_cost_in_a_header(tmp_path: Path) -> None:
    start = hour_ago()
    async with tenants(tmp_path, cache_ttl_seconds=0) as (acme, other):
        await seed(acme, other, start)
        assert acme.key is not None
        response = await acme.http.get(
            "/analytics/metrics/aggregated",
            params={"name": "m", "from": iso(start), "to": iso(start + HOUR_MS), "step": "1m"},
            headers={"Authorization": f"Bearer {acme.key}"},
        )
        assert response.status_code == 200, response.text
        assert response.headers["query-cost"] == "180"
