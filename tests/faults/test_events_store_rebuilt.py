"""The events cluster comes back empty (osmem-server keeps nothing across a restart,
as a cluster rebuilt from scratch): the template is put back, and an index the
gateway never mapped is rebuilt, so acknowledged events are found again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from analytics_gateway.backends.elasticsearch_client import build_client
from analytics_gateway.backends.elasticsearch_mapping import document, month_of
from analytics_gateway.domain import Event
from tests.conftest import GraphQLClient, gateway, make_settings, until_ready
from tests.fixtures.elasticsearch import search_server

RECORD = """mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }"""
FIND = """query($t: String!) { events(filter: {type: $t, last: "1d"}) { nodes { userId } }
  eventCounts(type: $t, last: "1d", step: "1d") { data } }"""


async def found(gql: GraphQLClient, type_: str) -> tuple[list[str], float]:
    body = await gql.execute(FIND, {"t": type_})
    assert "errors" not in body, body
    users = [node["userId"] for node in body["data"]["events"]["nodes"]]
    counts = sum(v for series in body["data"]["eventCounts"] for v in series["data"]["v"])
    return users, counts


async def test_events_written_after_the_cluster_came_back_empty_are_found(
    tmp_path: Path,
) -> None:
    with search_server(tmp_path / "search") as search:
        settings = make_settings(
            tmp_path / "data", events_url=search.events_url("rebuilt"), backend_timeout_seconds=2
        )
        async with gateway(settings) as gql:
            await gql.execute(RECORD, {"e": [{"type": "before", "userId": "u0"}]})
            assert await found(gql, "before") == (["u0"], 1)
            search.stop()
            search.start()  # empty: no template, no index
            deadline = time.monotonic() + 30
            while True:  # the first call after the restart may still meet the old connection
                body = await gql.execute(RECORD, {"e": [{"type": "evK", "userId": "u1"}]})
                if "errors" not in body:
                    break
                assert time.monotonic() < deadline, body
                await asyncio.sleep(0.2)
            assert await found(gql, "evK") == (["u1"], 1)
            assert (await until_ready(gql.http)).status_code == 200


async def test_an_index_mapped_by_chance_is_rebuilt_with_its_events(tmp_path: Path) -> None:
    """What a gateway before this check left behind: a month's index created by a
    write with no template, text where keywords belong."""
    with search_server(tmp_path / "search") as search:
        now = int(time.time() * 1000) - 60_000
        client = build_client(search.events_url("chance"), timeout_seconds=5)
        index = f"chance-events-{month_of(now)}"
        for i in range(3):
            event = Event("acme", f"e{i}", "evK", f"u{i}", now + i, {"song": f"s{i}"})
            await client.index(index=index, id=event.event_id, document=document(event))
        await client.indices.refresh(index=index)
        mapping = await client.indices.get_mapping(index=index)
        assert mapping[index]["mappings"]["properties"]["type"]["type"] == "text"
        settings = make_settings(
            tmp_path / "data", events_url=search.events_url("chance"), backend_timeout_seconds=2
        )
        try:
            async with gateway(settings) as gql:
                users, counts = await found(gql, "evK")
                assert sorted(users) == ["u0", "u1", "u2"]
                assert counts == 3
            mapping = await client.indices.get_mapping(index=index)
            assert mapping[index]["mappings"]["properties"]["type"]["type"] == "keyword"
        finally:
            await client.close()
