"""Chaos: steady ingest while every store in turn stops, freezes and restarts.

Real influxd (metrics), osmem-server (events) and a persistent redis-server
(keys, quotas, rate buckets, cache, ingest buffer). A writer sends a batch of
points and one of events every 50 ms, as a client would: a batch refused with
a retryable code (503, 429) is sent again, unchanged, until it is acknowledged;
any other refusal fails the test. Meanwhile: influxd stops and comes back,
then freezes for 10 s; osmem-server freezes for 10 s (it keeps nothing on disk,
so it is never restarted here: a restart would lose what it had acknowledged
as any storage without disks would); Redis restarts. Then every acknowledged
point and event must be queryable exactly once.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import GraphQLClient, gateway, make_settings, until_ready
from tests.fixtures.elasticsearch import search_server
from tests.fixtures.influxdb import influx_server
from tests.servers import redis_server

RETRYABLE = {503, 429}
T0 = 1_700_000_000_000  # points of their own past: no clash with anything else
POINTS_PER_BATCH = 20
EVENTS_PER_BATCH = 5
SETTLE_S = 120.0  # for the buffer to drain after the last fault, on a busy machine

RECORD = """mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }"""
VALUES = """query($from: DateTime!, $to: DateTime!) {
  metrics(query: {name: "chaos", from: $from, to: $to}) { data } }"""
EVENT_COUNT = """{ eventCounts(type: "chaos", last: "1d", step: "1d") { data } }"""


@dataclass
class Writer:
    gql: GraphQLClient
    acked_points: list[int] = field(default_factory=list)
    acked_events: int = 0
    retried: int = 0
    refusals: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        batch = 0
        while not stop.is_set():
            await asyncio.gather(self._points(batch), self._events(batch))
            batch += 1
            await asyncio.sleep(0.05)

    async def _points(self, batch: int) -> None:
        values = list(range(batch * POINTS_PER_BATCH, (batch + 1) * POINTS_PER_BATCH))
        body = "".join(f"chaos,host=h{v % 3} value={v} {T0 + v}\n" for v in values)
        headers = {"Authorization": f"Bearer {self.gql.key}"}

        async def send() -> int:
            response = await self.gql.http.post(
                "/write?precision=ms", content=body, headers=headers
            )
            return response.status_code if response.status_code != 204 else 0

        await self._until_acked(send, f"points {batch}")
        self.acked_points += values

    async def _events(self, batch: int) -> None:
        events = [
            {"type": "chaos", "userId": f"u{batch}-{i}", "metadata": {"batch": batch}}
            for i in range(EVENTS_PER_BATCH)
        ]

        async def send() -> int:
            response = await self.gql.post(RECORD, {"e": events})
            if response.status_code != 200:
                return response.status_code
            body = response.json()
            if "errors" in body:
                code = body["errors"][0]["extensions"]["code"]
                return 503 if code in {"BACKEND_UNAVAILABLE", "RATE_LIMITED"} else 400
            assert body["data"]["recordEvents"]["accepted"] == EVENTS_PER_BATCH, body
            return 0

        await self._until_acked(send, f"events {batch}")
        self.acked_events += EVENTS_PER_BATCH

    async def _until_acked(self, send: Callable[[], Any], what: str) -> None:
        while (status := await send()) != 0:
            if status not in RETRYABLE:
                self.refusals.append(f"{what}: {status}")
                return
            self.retried += 1
            await asyncio.sleep(0.2)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def unavailable(body: dict[str, Any]) -> bool:
    """A store still coming back is fine for a while; any other error is not."""
    code = body["errors"][0]["extensions"]["code"]
    assert code == "BACKEND_UNAVAILABLE", body
    return True


async def stored_values(gql: GraphQLClient, count: int) -> list[float] | None:
    body = await gql.execute(VALUES, {"from": iso(T0), "to": iso(T0 + count + 1)})
    if "errors" in body and unavailable(body):
        return None
    return sorted(v for series in body["data"]["metrics"] for v in series["data"]["v"])


async def stored_events(gql: GraphQLClient) -> float | None:
    body = await gql.execute(EVENT_COUNT)
    if "errors" in body and unavailable(body):
        return None
    return float(sum(v for series in body["data"]["eventCounts"] for v in series["data"]["v"]))


async def test_every_acknowledged_point_and_event_is_stored_exactly_once(tmp_path: Path) -> None:
    with (
        influx_server(tmp_path / "influx") as influx,
        search_server(tmp_path / "search") as search,
        redis_server(tmp_path / "redis", persistent=True) as redis,
    ):
        settings = make_settings(
            tmp_path / "data",
            metrics_url=influx.url("chaos"),
            events_url=search.events_url("chaos"),
            config_url=redis.url,
            cache_url=redis.url,
            ingest_buffer_url=redis.url,
            backend_timeout_seconds=1.0,
        )
        async with gateway(settings) as gql:
            assert (await until_ready(gql.http)).status_code == 200
            writer = Writer(gql)
            stop = asyncio.Event()
            writing = asyncio.create_task(writer.run(stop))
            try:
                await asyncio.sleep(1.0)  # steady state first
                influx.stop()
                await asyncio.sleep(3.0)
                influx.start()
                await asyncio.sleep(1.0)
                for frozen in (influx, search):
                    frozen.pause()
                    try:
                        await asyncio.sleep(10.0)
                    finally:
                        frozen.resume()
                    await asyncio.sleep(1.0)
                redis.stop()
                await asyncio.sleep(2.0)
                redis.start()
                await asyncio.sleep(2.0)
            finally:
                stop.set()
                await writing
            assert writer.refusals == []
            metrics = (await gql.http.get("/metrics")).text
            for kind in ("point", "event"):  # the faults were felt: the buffer took writes
                found = re.search(
                    rf'gateway_buffered_total\{{kind="{kind}"\}} ([0-9.e+]+)', metrics
                )
                assert found is not None
                assert float(found.group(1)) > 0, kind

            expected = sorted(float(v) for v in writer.acked_points)
            deadline = time.monotonic() + SETTLE_S
            while (values := await stored_values(gql, len(expected))) != expected:
                assert time.monotonic() < deadline, (
                    f"{len(values or [])} points stored of {len(expected)} acknowledged; "
                    f"duplicated: {len(values or []) - len(set(values or []))}"
                )
                await asyncio.sleep(0.5)
            while (events := await stored_events(gql)) != writer.acked_events:
                assert time.monotonic() < deadline, (
                    f"{events} events stored of {writer.acked_events} acknowledged"
                )
                await asyncio.sleep(0.5)
