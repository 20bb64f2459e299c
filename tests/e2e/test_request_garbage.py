"""What a request read is freed when it is answered, not at the next garbage collection.

Each young-generation collection stalls every tenant's requests for as long as it
walks and frees what it finds. A request's loaders memoise its answers; when they
lived in reference cycles, every answer (a big raw read among them) waited for a
collection, and under a flood of requests those collections took 40-75 ms.
"""

from __future__ import annotations

import asyncio
import gc
import time
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.domain import MetricQuery, Series
from tests.conftest import (
    GraphQLClient,
    asgi_transport,
    make_settings,
    new_key,
    production_backends,
    serving,
    started,
)
from tests.graphql_ws import GraphQLWS

INGEST = """mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }"""
READ = '{ metrics(query: {name: "m", last: "1h"}) { data } }'
TWICE = """{
  a: metrics(query: {name: "m", last: "1h"}) { data }
  b: metrics(query: {name: "m", last: "nonsense"}) { data }
}"""


@contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def resolver_frames() -> list[types.FrameType]:
    """Frames of `metrics` resolvers waiting for a garbage collection."""
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, types.FrameType) and o.f_code.co_name == "resolve_metrics"
    ]


async def freed(read: list[weakref.ref[object]]) -> bool:
    """Whether all of `read` is freed, with the collector off: by reference counts
    alone. A finished batch's done-callbacks run on a later loop turn, and the store's
    pool thread lets go of its call (and the answer in it) only once it gets the
    interpreter back, later still on a busy machine; so wait, with a generous
    deadline. Held by a cycle, it would never be freed, however long the wait."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(r() is None for r in read):
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.fixture
def read(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> list[weakref.ref[object]]:
    """Weak references to the values column of every series the embedded store reads."""
    if production_backends(request):
        pytest.skip("watches the embedded store's numpy columns (lists have no weak references)")
    columns: list[weakref.ref[object]] = []
    real, real_light = DuckDBStore.query_many, DuckDBStore.read_if_light

    def note(answers: list[list[Series]]) -> None:
        columns.extend(weakref.ref(s.columns()[1]) for answer in answers for s in answer)

    async def noted(self: DuckDBStore, queries: Sequence[MetricQuery]) -> list[list[Series]]:
        answers = await real(self, queries)
        note(answers)
        return answers

    async def noted_light(
        self: DuckDBStore, queries: Sequence[MetricQuery], light: Callable[[list[int]], bool]
    ) -> tuple[list[int], list[list[Series]] | None]:
        counts, answers = await real_light(self, queries, light)
        note(answers or [])
        return counts, answers

    monkeypatch.setattr(DuckDBStore, "query_many", noted)
    monkeypatch.setattr(DuckDBStore, "read_if_light", noted_light)
    return columns


async def seed(client: GraphQLClient) -> None:
    now = datetime.now(UTC)
    points = [
        {
            "name": "m",
            "value": float(i),
            "labels": {"h": str(i % 3)},
            "timestamp": (now - timedelta(seconds=i)).isoformat(),
        }
        for i in range(30)
    ]
    assert "errors" not in await client.execute(INGEST, {"p": points})


async def test_series_read_for_a_request_are_freed_once_it_is_answered(
    tmp_path: Path, read: list[weakref.ref[object]]
) -> None:
    config = make_settings(tmp_path / "data")
    key = await new_key(config)
    async with started(create_app(config, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            client = GraphQLClient(http, key)
            await seed(client)
            with collector_off():
                body = await client.execute(READ)
                assert len(body["data"]["metrics"]) == 3
                assert len(read) == 3
                assert await freed(read)
                # a field refused: its error's frames hold the request, answers and all
                body = await client.execute(TWICE)
                assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
                assert len(body["data"]["a"]) == 3
                assert len(read) == 6
                assert await freed(read)
                assert resolver_frames() == []  # the refusal's traceback was let go


async def test_answers_sent_over_a_websocket_are_freed_while_it_stays_open(
    tmp_path: Path, read: list[weakref.ref[object]]
) -> None:
    """A WebSocket connection runs for hours: nothing it sent may stay referenced."""
    config = make_settings(tmp_path / "data")
    key = await new_key(config)
    app = create_app(config, registry=CollectorRegistry())
    async with (
        started(app),
        serving(app, lifespan=False) as address,
        httpx.AsyncClient(base_url=f"http://{address}") as http,
    ):
        await seed(GraphQLClient(http, key))
        ws = await GraphQLWS.open(f"ws://{address}/graphql", {"Authorization": f"Bearer {key}"})
        try:
            await ws.ack()
            with collector_off():
                for _ in range(2):
                    op = await ws.subscribe(READ)
                    message = await ws.next_data()
                    assert message["id"] == op
                    assert len(message["payload"]["data"]["metrics"]) == 3
                    assert await ws.receive() == {"id": op, "type": "complete"}
                assert len(read) == 6
                deadline = time.monotonic() + 30
                while not await freed(read):
                    assert time.monotonic() < deadline, "answers sent are still referenced"
                    await asyncio.sleep(0.05)
        finally:
            await ws.close()
