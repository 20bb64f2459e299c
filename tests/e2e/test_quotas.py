"""Per-tenant rate limits and quotas: one tenant over its share is refused with a code
(and how long to wait), and the others go on as if nothing happened."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from analytics_gateway.app import create_app
from analytics_gateway.auth import KEY_PREFIX
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.backends.redis_config import RedisConfigStore
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.config import Settings
from analytics_gateway.domain import ApiKeyRecord
from analytics_gateway.query_cost import HEAVY_READ_POINTS
from analytics_gateway.quotas import HOLD_REFUSAL_SECONDS, MAX_WAITING, Quotas, TenantQuotas
from tests.conftest import GraphQLClient, make_settings, new_key, serving, started
from tests.fixtures.alert_receivers import hanging_receiver
from tests.graphql_ws import GraphQLWS
from tests.servers import GatewayProcess, RedisServer

INGEST = """mutation($p: [MetricPointInput!]!) {
  ingestMetrics(points: $p) { accepted rejected { index message } }
}"""
EVENTS = "mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }"
SUB = 'subscription { metricPoints(name: "m") { value } }'


@dataclass
class Gateway:
    address: str
    http: httpx.AsyncClient
    a: GraphQLClient  # the noisy tenant
    b: GraphQLClient  # its neighbour
    app: Starlette


@contextlib.asynccontextmanager
async def gateway_with(tmp_path: Path, quotas: str, **settings: Any) -> AsyncIterator[Gateway]:
    config = make_settings(tmp_path / "data", quotas=quotas, **settings)
    key_a = await new_key(config, "noisy", "ingest,read,write,admin")
    key_b = await new_key(config, "quiet", "ingest,read,write,admin")
    app = create_app(config, registry=CollectorRegistry())
    async with (
        started(app),
        serving(app, lifespan=False) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        yield Gateway(address, http, GraphQLClient(http, key_a), GraphQLClient(http, key_b), app)


def held_a_second(wait: int) -> range:
    """What Retry-After says on an HTTP refusal whose answer was held for its first
    second (`HOLD_REFUSAL_SECONDS`) of a wait of `wait` seconds: what is left, a second
    less again if the machine stalled a second more."""
    return range(wait - 2, wait)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


# -- request rates ---------------------------------------------------------------------------

# a bucket of 3 that refills once in 100 s: the fourth request is refused however slow
# the machine is, with Retry-After 100
FEW_REQUESTS = "requests_per_second=0.01,request_burst=3"


async def test_a_refusal_for_the_rate_is_answered_once_the_wait_is_over_at_most_a_second(
    tmp_path: Path,
) -> None:
    """A tenant flooding past its rate and waiting for each answer (ignoring Retry-After)
    sent hundreds of requests a second, each refused at once at a cost to every tenant;
    held, its answers come one per wait and connection. Its neighbour is served
    meanwhile."""
    async with gateway_with(tmp_path, FEW_REQUESTS) as gw:
        quotas = gw.app.state.gateway.services.quotas
        for _ in range(3):
            assert "errors" not in await gw.a.execute("{ metricNames }")
        started = time.monotonic()
        held = asyncio.create_task(gw.a.post("{ metricNames }"))
        deadline = time.monotonic() + 30
        while quotas.held_refusals("noisy") == 0 and not held.done():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert "errors" not in await gw.b.execute("{ metricNames }")
        refused = await asyncio.wait_for(held, 30)
        assert time.monotonic() - started >= HOLD_REFUSAL_SECONDS
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) in held_a_second(100)
        rest_started = time.monotonic()
        rest = await gw.http.get(
            "/analytics/metrics/noisy?name=m", headers={"Authorization": f"Bearer {gw.a.key}"}
        )
        assert rest.status_code == 429, rest.text
        assert time.monotonic() - rest_started >= HOLD_REFUSAL_SECONDS
        assert quotas.held_refusals("noisy") == 0


async def test_requests_over_the_rate_are_429_with_retry_after_and_the_neighbour_is_served(
    tmp_path: Path,
) -> None:
    async with gateway_with(tmp_path, FEW_REQUESTS) as gw:
        for _ in range(3):
            assert "errors" not in await gw.a.execute("{ metricNames }")
        refused = await gw.a.post("{ metricNames }")
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert wait in held_a_second(100)
        error = refused.json()["errors"][0]
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": wait}
        assert f"retry in {wait} s" in error["message"]
        # the same bucket for REST and WebSocket connections
        rest = await gw.http.get(
            "/analytics/metrics/noisy?name=m", headers={"Authorization": f"Bearer {gw.a.key}"}
        )
        assert rest.status_code == 429, rest.text
        assert int(rest.headers["retry-after"]) in held_a_second(wait)
        assert rest.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        ws = await GraphQLWS.open(
            f"ws://{gw.address}/graphql", {"Authorization": f"Bearer {gw.a.key}"}
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429
        assert closed.value.rcvd.reason.startswith("RATE_LIMITED: ")
        # the neighbour has its own bucket
        for _ in range(3):
            assert "errors" not in await gw.b.execute("{ metricNames }")


async def test_a_tenant_refused_for_its_rate_is_refused_again_without_a_key_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood past the limit must cost as little as possible: once refused, a tenant's
    key is not looked up again until its wait is over (the refusal said how long)."""
    lookups: list[str] = []
    for store in (SQLiteConfigStore, RedisConfigStore):  # the embedded one, or Redis
        real = store.key_by_hash

        async def counted(self: Any, secret_hash: str, real: Any = real) -> ApiKeyRecord | None:
            lookups.append(secret_hash)
            record: ApiKeyRecord | None = await real(self, secret_hash)
            return record

        monkeypatch.setattr(store, "key_by_hash", counted)
    async with gateway_with(tmp_path, FEW_REQUESTS) as gw:
        for _ in range(3):
            assert "errors" not in await gw.a.execute("{ metricNames }")
        assert (await gw.a.post("{ metricNames }")).status_code == 429
        looked_up = len(lookups)
        for _ in range(5):
            refused = await gw.a.post("{ metricNames }")
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["retry-after"]) <= 100
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            rest = await gw.http.get(
                "/analytics/metrics/noisy?name=m", headers={"Authorization": f"Bearer {gw.a.key}"}
            )
            assert rest.status_code == 429
        assert len(lookups) == looked_up
        # a key nobody verified is looked up as ever, and the neighbour is served
        stranger = GraphQLClient(gw.http, KEY_PREFIX + "unknown")
        assert (await stranger.post("{ metricNames }")).status_code == 401
        assert "errors" not in await gw.b.execute("{ metricNames }")
        assert len(lookups) == looked_up + 2


async def test_points_over_the_rate_are_refused_whole_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    quotas = "points_per_second=0.01,point_burst=10,events_per_second=0.01,event_burst=2"
    async with gateway_with(tmp_path, quotas) as gw:
        points = [{"name": "m", "value": float(i)} for i in range(6)]
        ok = await gw.a.execute(INGEST, {"p": points})
        assert ok["data"]["ingestMetrics"]["accepted"] == 6
        again = await gw.a.execute(INGEST, {"p": points})  # 12 > 10 left in the bucket
        assert codes(again) == ["RATE_LIMITED"]
        assert again["errors"][0]["extensions"]["retryAfter"] == 200  # 2 points at 0.01/s
        too_big = await gw.b.execute(INGEST, {"p": points * 2})  # more than a whole burst
        assert codes(too_big) == ["QUOTA_EXCEEDED"]
        assert too_big["errors"][0]["extensions"]["quota"] == "point_burst"
        rest = await gw.http.post(
            "/analytics/metrics", json=points, headers={"Authorization": f"Bearer {gw.a.key}"}
        )
        assert rest.status_code == 429
        assert int(rest.headers["retry-after"]) in held_a_second(200)
        line = await gw.http.post(
            "/api/v2/write?org=o&bucket=b",
            content="m value=1\n" * 6,
            headers={"Authorization": f"Token {gw.a.key}"},
        )
        assert line.status_code == 429
        stored = await gw.a.execute('{ metrics(query: {name: "m", last: "1h"}) { data } }')
        assert len(stored["data"]["metrics"][0]["data"]["v"]) == 6  # the first batch only
        assert (await gw.b.execute(INGEST, {"p": points}))["data"]["ingestMetrics"]["accepted"] == 6
        events = [{"type": "play"}] * 3
        assert codes(await gw.a.execute(EVENTS, {"e": events})) == ["QUOTA_EXCEEDED"]
        ok_events = await gw.a.execute(EVENTS, {"e": events[:2]})
        assert ok_events["data"]["recordEvents"]["accepted"] == 2


async def test_a_tenant_refused_for_its_point_rate_is_refused_again_until_told(
    tmp_path: Path,
) -> None:
    """After a refused write, the tenant's writes are refused, their bodies unread, until
    the wait it was given is over: reading and counting the megabytes of a flood's
    writes was most of what the flood cost everyone else."""
    async with gateway_with(tmp_path, "points_per_second=1,point_burst=10") as gw:

        async def write(client: GraphQLClient, lines: int) -> httpx.Response:
            return await gw.http.post(
                "/write",
                content="m value=1\n" * lines,
                headers={"Authorization": f"Token {client.key}"},
            )

        assert (await write(gw.a, 8)).status_code == 204  # 2 points left
        refused = await write(gw.a, 6)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 4  # 4 points at 1/s
        # one line would fit in what is left, yet the tenant was told to wait
        again = await write(gw.a, 1)
        assert again.status_code == 429
        assert again.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        rest = await gw.http.post(
            "/analytics/metrics",
            json=[{"name": "m", "value": 1.0}],
            headers={"Authorization": f"Bearer {gw.a.key}"},
        )
        assert rest.status_code == 429
        one = await gw.a.execute(INGEST, {"p": [{"name": "m", "value": 1.0}]})
        assert codes(one) == ["RATE_LIMITED"]  # whichever way it writes
        assert (await write(gw.b, 8)).status_code == 204  # the neighbour's own bucket
        deadline = asyncio.get_running_loop().time() + 60
        while (answer := await write(gw.a, 1)).status_code == 429:
            assert asyncio.get_running_loop().time() < deadline, answer.text
            await asyncio.sleep(0.2)
        assert answer.status_code == 204


def test_replicas_on_one_redis_share_each_tenants_bucket(
    tmp_path: Path, redis: RedisServer
) -> None:
    """Two gateway processes: a tenant gets its burst once between them, not once each."""
    base = redis.url.rsplit("/", 1)[0]
    env = {
        "ANALYTICS_CONFIG_URL": f"{base}/0",
        "ANALYTICS_CACHE_URL": f"{base}/1",
        "ANALYTICS_QUOTAS": "requests_per_second=0.01,request_burst=4",
        "ANALYTICS_JSON_LOGS": "false",
    }
    settings = Settings.from_env({}, config_url=f"{base}/0")
    noisy, quiet = (asyncio.run(new_key(settings, tenant)) for tenant in ("noisy", "quiet"))
    replicas = [GatewayProcess(tmp_path / name, env) for name in ("a", "b")]
    try:
        for replica in replicas:
            replica.start()
        a, b = replicas

        def status(replica: GatewayProcess, key: str) -> httpx.Response:
            return httpx.post(
                replica.url + "/graphql",
                json={"query": "{ metricNames }"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )

        answers = [status(a, noisy), status(b, noisy), status(a, noisy), status(b, noisy)]
        assert [r.status_code for r in answers] == [200] * 4
        for replica in (a, b):
            refused = status(replica, noisy)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) > 90
        assert [status(r, quiet).status_code for r in (a, b, a, b)] == [200] * 4
    finally:
        for replica in replicas:
            replica.stop()


# a raw read of 70 series over 2 hours is estimated at 70 x 720 = 50,400 points: heavy;
# their maximum over the same range, at 70
WIDE_SERIES = 70
HEAVY_READ = '{ metrics(query: {name: "wide", last: "2h"}) { labels } }'
LIGHT_READ = '{ metrics(query: {name: "wide", last: "2h", aggregation: MAX}) { labels } }'


async def test_a_tenants_heavy_reads_run_one_at_a_time_and_its_neighbours_do_not_wait(
    tmp_path: Path,
) -> None:
    """With the noisy tenant's one heavy-read slot held, its next heavy read waits in
    line, while its light read and the neighbour's heavy read are answered; once the
    slot is free, the waiting read is answered too."""
    assert WIDE_SERIES * 720 >= HEAVY_READ_POINTS
    async with gateway_with(tmp_path, "") as gw:
        points = [
            {"name": "wide", "labels": {"host": f"h{i}"}, "value": 1.0} for i in range(WIDE_SERIES)
        ]
        for client in (gw.a, gw.b):
            stored = await client.execute(INGEST, {"p": points})
            assert stored["data"]["ingestMetrics"]["accepted"] == WIDE_SERIES
        quotas = gw.app.state.gateway.services.quotas
        async with quotas.reading_heavy("noisy"):
            waiting = asyncio.create_task(gw.a.execute(HEAVY_READ))
            async with asyncio.timeout(30):
                while quotas.heavy_reads_of("noisy") < 2:  # the slot's holder and the read
                    assert not waiting.done(), waiting.result()
                    await asyncio.sleep(0.01)
            light = await gw.a.execute(LIGHT_READ)
            assert len(light["data"]["metrics"]) == WIDE_SERIES, light
            assert light["extensions"]["cost"]["points"] == WIDE_SERIES
            neighbour = await gw.b.execute(HEAVY_READ)
            assert len(neighbour["data"]["metrics"]) == WIDE_SERIES, neighbour
            heavy_cost = neighbour["extensions"]["cost"]["points"]
            assert heavy_cost >= HEAVY_READ_POINTS
            assert not waiting.done()
        answered = await asyncio.wait_for(waiting, 30)
        assert len(answered["data"]["metrics"]) == WIDE_SERIES, answered
        assert answered["extensions"]["cost"]["points"] == heavy_cost
        assert quotas.heavy_reads_of("noisy") == 0


# -- what a tenant holds ---------------------------------------------------------------------


CREATE_ALERT = """mutation($n: String!) {
  createAlert(input: {name: $n, condition: "m > 1"}) { id }
}"""
CREATE_CHANNEL = """mutation($n: String!) {
  createChannel(input: {name: $n, kind: WEBHOOK, url: "http://127.0.0.1:9/hook"}) { id }
}"""
CREATE_DASHBOARD = """mutation($n: String!) {
  createCustomDashboard(name: $n, components: [{type: KPI, metric: "m"}]) { id }
}"""


async def test_counts_of_rules_channels_and_dashboards_are_capped_per_tenant(
    tmp_path: Path,
) -> None:
    quotas = "alert_rules=2,channels=1,dashboards=1"
    async with gateway_with(tmp_path, quotas, egress_allow="127.0.0.1/32") as gw:
        for client in (gw.a, gw.b):
            assert "errors" not in await client.execute(CREATE_ALERT, {"n": "one"})
            assert "errors" not in await client.execute(CREATE_ALERT, {"n": "two"})
            assert "errors" not in await client.execute(CREATE_CHANNEL, {"n": "one"})
            assert "errors" not in await client.execute(CREATE_DASHBOARD, {"n": "one"})
        third = await gw.a.execute(CREATE_ALERT, {"n": "three"})
        assert third["errors"][0]["extensions"] == {
            "code": "QUOTA_EXCEEDED",
            "quota": "alert_rules",
            "limit": 2,
        }
        assert codes(await gw.a.execute(CREATE_CHANNEL, {"n": "two"})) == ["QUOTA_EXCEEDED"]
        assert codes(await gw.a.execute(CREATE_DASHBOARD, {"n": "two"})) == ["QUOTA_EXCEEDED"]
        rules = await gw.a.execute("{ alerts { name } }")
        assert sorted(r["name"] for r in rules["data"]["alerts"]) == ["one", "two"]
        # deleting one makes room again
        first = (await gw.a.execute("{ alerts { id } }"))["data"]["alerts"][0]["id"]
        await gw.a.execute("mutation($id: ID!) { deleteAlert(id: $id) }", {"id": first})
        assert "errors" not in await gw.a.execute(CREATE_ALERT, {"n": "three"})


CREATE_KPI = """mutation($n: String!) {
  createKpi(input: {name: $n, formula: "m", aggregation: SUM}) { id }
}"""


async def test_concurrent_creates_cannot_pass_a_count_together(tmp_path: Path) -> None:
    """Each create counted what the tenant held, then stored: ten at once all counted
    the same number and all passed (30 concurrent createKpi made 102 of 100)."""
    from analytics_gateway.kpis.checks import MAX_KPIS

    quotas = "alert_rules=3,channels=3,dashboards=3,concurrent_requests=16"
    async with gateway_with(tmp_path, quotas, egress_allow="127.0.0.1/32") as gw:
        for n in range(MAX_KPIS - 3):
            assert "errors" not in await gw.a.execute(CREATE_KPI, {"n": f"k{n}"})
        for create, listing in (
            (CREATE_ALERT, "{ alerts { id } }"),
            (CREATE_CHANNEL, "{ channels { id } }"),
            (CREATE_DASHBOARD, "{ dashboards { id } }"),
            (CREATE_KPI, "{ kpis { id } }"),
        ):
            answers = await asyncio.gather(
                *(gw.a.execute(create, {"n": f"c{i}"}) for i in range(10))
            )
            refused = [a for a in answers if "errors" in a]
            assert len(refused) == 7, (create, answers)
            assert {c for a in refused for c in codes(a)} == {"QUOTA_EXCEEDED"}
            held = (await gw.a.execute(listing))["data"]
            assert len(next(iter(held.values()))) == (MAX_KPIS if "Kpi" in create else 3)


async def test_new_series_beyond_the_active_series_quota_are_refused_per_point(
    tmp_path: Path,
) -> None:
    async with gateway_with(tmp_path, "active_series=2") as gw:
        points = [
            {"name": "m", "value": 1.0, "labels": {"host": "a"}},
            {"name": "m", "value": 2.0, "labels": {"host": "b"}},
            {"name": "m", "value": 3.0, "labels": {"host": "c"}},
            {"name": "m", "value": 4.0, "labels": {"host": "a"}},
        ]
        outcome = (await gw.a.execute(INGEST, {"p": points}))["data"]["ingestMetrics"]
        assert outcome["accepted"] == 3
        assert [r["index"] for r in outcome["rejected"]] == [2]
        assert "quota of active series" in outcome["rejected"][0]["message"]
        # known series still write; the neighbour has its own quota
        again = (await gw.a.execute(INGEST, {"p": points[:2]}))["data"]["ingestMetrics"]
        assert again["accepted"] == 2
        line = await gw.http.post(
            "/api/v2/write?org=o&bucket=b",
            content="m,host=a value=5\nm,host=z value=6\n",
            headers={"Authorization": f"Token {gw.a.key}"},
        )
        assert line.status_code == 400, line.text
        assert "quota of active series" in line.text
        neighbour = (await gw.b.execute(INGEST, {"p": points}))["data"]["ingestMetrics"]
        assert neighbour["rejected"][0]["index"] == 2
        stored = await gw.a.execute(
            '{ metrics(query: {name: "m", last: "1h", groupBy: ["host"]}) { labels } }'
        )
        hosts = {s["labels"]["host"] for s in stored["data"]["metrics"]}
        assert hosts == {"a", "b"}


# -- live connections ------------------------------------------------------------------------


async def test_websocket_connections_and_subscriptions_are_capped_per_tenant(
    tmp_path: Path,
) -> None:
    async with gateway_with(tmp_path, "connections=1,subscriptions=2") as gw:
        url = f"ws://{gw.address}/graphql"
        first = await GraphQLWS.open(url, {"Authorization": f"Bearer {gw.a.key}"})
        await first.ack()
        second = await GraphQLWS.open(url, {"Authorization": f"Bearer {gw.a.key}"})
        with pytest.raises(ConnectionClosed) as closed:
            await second.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429
        assert closed.value.rcvd.reason.startswith("QUOTA_EXCEEDED: ")
        neighbour = await GraphQLWS.open(url, {"Authorization": f"Bearer {gw.b.key}"})
        await neighbour.ack()

        # three at once: each is admitted (a Redis round trip with production
        # backends) before it counts, so any one of them may be the one refused
        ops = [await first.subscribe(SUB) for _ in range(3)]
        message = await first.receive()
        assert message["id"] in ops
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "QUOTA_EXCEEDED"
        # ending one frees its place
        running = next(op for op in ops if op != message["id"])
        await first.send({"id": running, "type": "complete"})
        await _until_subscribed(first, SUB)

        # a closed connection frees its place too
        await first.close()
        assert gw.a.key is not None
        await _until_connected(url, gw.a.key)
        await neighbour.close()


async def test_each_websocket_operation_is_a_request_of_its_tenant(tmp_path: Path) -> None:
    """A burst of subscribes on open connections costs the event loop a validation
    each: it is held to the tenant's request rate like a burst of HTTP requests."""
    async with gateway_with(tmp_path, FEW_REQUESTS) as gw:
        url = f"ws://{gw.address}/graphql"
        noisy = await GraphQLWS.open(url, {"Authorization": f"Bearer {gw.a.key}"})
        await noisy.ack()  # the connection is the first request
        # the second to fourth requests: any one of the three may be the one refused
        ops = [await noisy.subscribe(SUB) for _ in range(3)]
        message = await noisy.receive()
        assert message["id"] in ops
        assert message["type"] == "error"
        extensions = message["payload"][0]["extensions"]
        assert extensions["code"] == "RATE_LIMITED"
        assert extensions["retryAfter"] >= 1
        # a query over the socket is a request too
        query = await noisy.subscribe("{ viewer }")
        message = await noisy.receive()
        assert (message["id"], message["type"]) == (query, "error")
        assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"

        neighbour = await GraphQLWS.open(url, {"Authorization": f"Bearer {gw.b.key}"})
        await neighbour.ack()
        served = await neighbour.subscribe("{ viewer }")
        message = await neighbour.receive()
        assert (message["id"], message["type"]) == (served, "next"), message
        await neighbour.close()
        await noisy.close()


async def test_a_tenants_requests_beyond_its_concurrency_wait_and_its_neighbour_does_not(
    tmp_path: Path,
) -> None:
    """With one request slot, the noisy tenant's second request waits for its first
    (held open by a receiver that does not answer) while its neighbour is served; a
    line longer than the slots allow is refused with RATE_LIMITED."""
    release = asyncio.Event()
    async with (
        hanging_receiver(release) as (url, arrived),
        gateway_with(tmp_path, "concurrent_requests=1", egress_allow="127.0.0.1/32") as gw,
    ):
        created = await gw.a.execute(
            'mutation($u: String!) { createChannel(input: {name: "slow", kind: WEBHOOK, '
            'url: $u, timeout: "60s", maxRetries: 0}) { id } }',
            {"u": url},
        )
        channel = created["data"]["createChannel"]["id"]
        slow = asyncio.create_task(
            gw.a.execute("mutation($c: ID!) { testChannel(id: $c) { ok } }", {"c": channel})
        )
        while not arrived:  # the slow request now holds the noisy tenant's only slot
            assert not slow.done(), slow.result()
            await asyncio.sleep(0.01)
        queued = asyncio.create_task(gw.a.execute("{ viewer }"))
        # more than a slot's line: refused at once
        waiting = [asyncio.create_task(gw.a.post("{ viewer }")) for _ in range(MAX_WAITING + 5)]
        refused = await asyncio.wait_for(
            asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED), 30
        )
        first = next(iter(refused[0])).result()
        assert first.status_code == 429, first.text
        assert codes(first.json()) == ["RATE_LIMITED"]
        assert first.headers["retry-after"] == "1"

        served = await gw.b.execute("{ viewer }")
        assert "errors" not in served, served
        assert not queued.done(), "the second request ran beside the first"
        release.set()
        assert "errors" not in await slow
        assert "errors" not in await queued
        statuses = [(await task).status_code for task in waiting]
        assert statuses.count(429) == len(waiting) - (MAX_WAITING - 1), statuses


async def _until_subscribed(ws: GraphQLWS, query: str, attempts: int = 50) -> None:
    """Subscribe until it is not refused (the `complete` is handled asynchronously)."""
    for _ in range(attempts):
        op_id = await ws.subscribe(query)
        try:
            message = await ws.receive(timeout=1.0)
        except TimeoutError:
            return  # no error: it is running
        assert message["id"] == op_id
        assert message["payload"][0]["extensions"]["code"] == "QUOTA_EXCEEDED"
    raise AssertionError("the subscription's place was never freed")


async def _until_connected(url: str, key: str, attempts: int = 50) -> None:
    for _ in range(attempts):
        ws = await GraphQLWS.open(url, {"Authorization": f"Bearer {key}"})
        try:
            await ws.ack()
            return
        except ConnectionClosed:
            continue
        finally:
            await ws.close()
    raise AssertionError("the connection's place was never freed")


# -- operators -------------------------------------------------------------------------------


async def test_operator_overrides_apply_to_one_tenant(tmp_path: Path) -> None:
    config = make_settings(tmp_path / "data")
    store = build_config_store(config)
    try:
        quotas = Quotas(TenantQuotas(), store)
        await quotas.override("noisy", {"request_burst": 2, "requests_per_second": 0.01})
        assert await quotas.overrides("noisy") == {"request_burst": 2, "requests_per_second": 0.01}
    finally:
        await store.close()
    async with gateway_with(tmp_path, "") as gw:
        assert "errors" not in await gw.a.execute("{ metricNames }")
        assert "errors" not in await gw.a.execute("{ metricNames }")
        assert (await gw.a.post("{ metricNames }")).status_code == 429
        for _ in range(5):
            assert "errors" not in await gw.b.execute("{ metricNames }")


def test_bad_quota_settings_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown quota 'request_per_second'"):
        TenantQuotas.parse("request_per_second=5")
    with pytest.raises(ValueError, match="must be a positive number"):
        TenantQuotas.parse("channels=0")
    with pytest.raises(ValueError, match="is not name=number"):
        TenantQuotas.parse("channels")
    assert TenantQuotas.parse(" channels=3, ").channels == 3
