"""The gateway with its events on Elasticsearch (osmem-server): GraphQL in, GraphQL out."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from analytics_gateway.app import Gateway, create_app
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from tests.conftest import (
    GraphQLClient,
    asgi_transport,
    backend_calls,
    make_settings,
    new_key,
    started,
)
from tests.e2e.test_events_api import RECORD, iso
from tests.servers import free_port

HOUR = 3_600_000


@contextlib.asynccontextmanager
async def gateway_on(
    tmp_path: Path, events_url: str
) -> AsyncIterator[tuple[GraphQLClient, Gateway]]:
    """A gateway whose events live at `events_url`: its client (tenant acme), and itself."""
    settings = make_settings(tmp_path / "data", events_url=events_url, backend_timeout_seconds=2)
    key = await new_key(settings)
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        gateway: Gateway = app.state.gateway
        store = gateway.services.backends.events
        assert isinstance(store, ElasticsearchEventStore)
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield GraphQLClient(http, key), gateway


async def test_recorded_events_page_newest_first(tmp_path: Path, elasticsearch_url: str) -> None:
    base = int(time.time() * 1000) - 600_000
    async with gateway_on(tmp_path, elasticsearch_url) as (gql, _):
        events = [
            {"type": "song_play", "userId": f"u{i}", "timestamp": iso(base + i * 1000),
             "metadata": {"song_id": f"s{i}", "plays": i}}
            for i in range(7)
        ] + [{"type": "signup", "userId": "u0"}]  # fmt: skip
        result = await gql.execute(RECORD, {"events": events})
        assert result["data"]["recordEvents"] == {"accepted": 8, "rejected": []}

        page_query = """query($after: String) {
          events(filter: {type: "song_play"}, first: 3, after: $after) {
            edges { cursor node { userId metadata timestamp } }
            pageInfo { hasNextPage endCursor } } }"""
        seen: list[str] = []
        after = None
        while True:
            page = (await gql.execute(page_query, {"after": after}))["data"]["events"]
            seen += [edge["node"]["userId"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [f"u{i}" for i in range(6, -1, -1)]

        body = await gql.execute('{ events(filter: {userId: "u0"}) { nodes { type metadata } } }')
        nodes = body["data"]["events"]["nodes"]
        assert nodes == [{"type": "signup", "metadata": {}}, {"type": "song_play",
                         "metadata": {"song_id": "s0", "plays": 0}}]  # fmt: skip


def count_field(i: int) -> str:
    """Field `c<i>`: odd ones count signups, even ones song plays, every fourth by country."""
    type_ = "signup" if i % 2 else "song_play"
    group = ', groupBy: "country"' if i % 4 == 0 else ""
    return (
        f'c{i}: eventCounts(type: "{type_}", last: "6h", step: "{i + 1}m"{group}) {{ labels data }}'
    )


async def test_twenty_event_counts_cost_one_msearch(tmp_path: Path, elasticsearch_url: str) -> None:
    base = (int(time.time() * 1000) // HOUR - 3) * HOUR
    async with gateway_on(tmp_path, elasticsearch_url) as (gql, gateway):
        registry = gateway.metrics.registry
        events = [
            {"type": "song_play", "timestamp": iso(base + 60_000), "metadata": {"country": "DE"}},
            {"type": "song_play", "timestamp": iso(base + 120_000), "metadata": {"country": "DE"}},
            {"type": "song_play", "timestamp": iso(base + HOUR), "metadata": {"country": "US"}},
            {"type": "song_play", "timestamp": iso(base + HOUR)},
            {"type": "signup", "timestamp": iso(base + HOUR)},
        ]
        await gql.execute(RECORD, {"events": events})
        fields = " ".join(count_field(i) for i in range(20))
        before = backend_calls(registry, "elasticsearch", "count_events")
        body = await gql.execute(f"{{ {fields} }}")
        assert "errors" not in body, body
        assert backend_calls(registry, "elasticsearch", "count_events") == before + 1

        data = body["data"]
        assert data["c0"] == [  # song_play by country per minute; no country: no label
            {"labels": {"country": "DE"}, "data": {"t": [base + 60_000, base + 120_000],
                                                   "v": [1.0, 1.0]}},
            {"labels": {"country": "US"}, "data": {"t": [base + HOUR], "v": [1.0]}},
            {"labels": {}, "data": {"t": [base + HOUR], "v": [1.0]}},
        ]  # fmt: skip
        assert data["c1"] == [{"labels": {}, "data": {"t": [base + HOUR], "v": [1.0]}}]
        step = 3 * 60_000  # c2: song_play per 3 minutes, epoch-aligned
        assert data["c2"][0]["data"] == {
            "t": sorted({(base + 60_000) // step * step, (base + HOUR) // step * step}),
            "v": [2.0, 2.0],
        }
        assert all(sum(data[f"c{i}"][0]["data"]["v"]) == 1.0 for i in range(1, 20, 2))


async def test_unreachable_elasticsearch_is_reported_per_field(tmp_path: Path) -> None:
    url = f"elasticsearch://127.0.0.1:{free_port()}/down"
    async with gateway_on(tmp_path, url) as (gql, _):
        body = await gql.execute(
            "{ viewer events(filter: {}) { nodes { id } } "
            'eventCounts(type: "song_play", last: "1h", step: "5m") { data } }'
        )
    assert body["data"]["viewer"]["tenant"] == "acme"
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert codes == {("events",): "BACKEND_UNAVAILABLE", ("eventCounts",): "BACKEND_UNAVAILABLE"}
