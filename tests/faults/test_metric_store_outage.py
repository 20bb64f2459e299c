"""The metric store goes away: nothing acknowledged is lost, and the rest still answers.

Real influxd and redis-server; the store is stopped (or frozen with SIGSTOP)
while the gateway keeps serving.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from tests.conftest import GraphQLClient, gateway, make_settings, until_ready
from tests.fixtures.influxdb import influx_server
from tests.servers import RedisServer

COUNT = """query($from: DateTime!, $to: DateTime!) {
  metrics(query: {name: "outage_probe", from: $from, to: $to, step: "1d", aggregation: COUNT}) {
    data
  }
}"""
T0 = 1_700_000_000_000


def _lines(start: int, count: int) -> bytes:
    return "".join(
        f"outage_probe,host=a value={i} {T0 + i}\n" for i in range(start, start + count)
    ).encode()


async def _write(gql: GraphQLClient, start: int, count: int) -> None:
    response = await gql.http.post(
        "/write?precision=ms",
        content=_lines(start, count),
        headers={"Authorization": f"Token {gql.key}"},
    )
    assert response.status_code == 204, response.text


async def _stored(gql: GraphQLClient) -> float:
    """Points stored; -1 while the store is not answering (its breaker still open)."""
    body = await gql.execute(COUNT, {"from": "2023-11-01T00:00:00Z", "to": "2023-12-01T00:00:00Z"})
    if "errors" in body:
        assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE", body
        return -1
    return sum(sum(series["data"]["v"]) for series in body["data"]["metrics"])


async def test_points_acknowledged_while_the_store_is_down_are_all_stored(
    tmp_path: Path, redis: RedisServer
) -> None:
    with influx_server(tmp_path / "influx") as influx:
        settings = make_settings(
            tmp_path / "data",
            metrics_url=influx.url("outage"),
            ingest_buffer_url=redis.url,
            backend_timeout_seconds=1.0,
        )
        async with gateway(settings) as gql:
            batch, sent = 200, 0
            for _ in range(3):
                await _write(gql, sent, batch)
                sent += batch
            influx.stop()
            down_until = time.monotonic() + 10
            while time.monotonic() < down_until:  # every one of these is acknowledged
                await _write(gql, sent, batch)
                sent += batch
                await asyncio.sleep(0.2)
            buffered = sent - 3 * batch
            influx.start()
            for _ in range(3):
                await _write(gql, sent, batch)
                sent += batch
            deadline = time.monotonic() + 30
            stored = await _stored(gql)
            while stored < sent and time.monotonic() < deadline:
                await asyncio.sleep(0.25)  # the drainer works in the background
                stored = await _stored(gql)
            assert stored == sent
            registry_text = (await gql.http.get("/metrics")).text
            found = re.search(r'gateway_buffered_total\{kind="point"\} ([0-9.e+]+)', registry_text)
            assert found is not None
            # all written while it was down, and maybe some just after it came back,
            # while its breaker was still open
            assert buffered <= float(found.group(1)) <= sent


async def test_without_a_buffer_a_write_to_a_down_store_is_refused_not_lost(
    tmp_path: Path,
) -> None:
    with influx_server(tmp_path / "influx") as influx:
        settings = make_settings(
            tmp_path / "data", metrics_url=influx.url("refused"), backend_timeout_seconds=1.0
        )
        async with gateway(settings) as gql:
            influx.stop()
            response = await gql.http.post(
                "/write", content=_lines(0, 10), headers={"Authorization": f"Token {gql.key}"}
            )
            assert response.status_code == 503
            body = await gql.execute(
                'mutation { ingestMetrics(points: [{name: "x", value: 1}]) { accepted } }'
            )
            assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"


async def test_frozen_store_fails_its_fields_fast_while_the_rest_answers(
    tmp_path: Path,
) -> None:
    with influx_server(tmp_path / "influx") as influx:
        settings = make_settings(
            tmp_path / "data", metrics_url=influx.url("frozen"), backend_timeout_seconds=1.0
        )
        async with gateway(settings) as gql:
            await gql.execute('mutation { recordEvents(events: [{type: "play"}]) { accepted } }')
            influx.pause()
            try:
                began = time.monotonic()
                body = await gql.execute(
                    '{ metrics(query: {name: "cpu", last: "1h"}) { name } '
                    'eventCounts(type: "play", last: "1h", step: "1h") { data } }'
                )
                elapsed = time.monotonic() - began
                assert body["data"]["metrics"] is None
                assert body["errors"][0]["path"] == ["metrics"]
                assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
                assert sum(body["data"]["eventCounts"][0]["data"]["v"]) == 1
                assert elapsed < 5, elapsed
                ready = await gql.http.get("/readyz")
                assert ready.status_code == 503
                checks: dict[str, Any] = ready.json()["checks"]
                assert checks["metrics"] is False
                assert checks["events"] is True
                assert (await gql.http.get("/healthz")).status_code == 200
            finally:
                influx.resume()
            ready = await until_ready(gql.http)
            assert ready.status_code == 200, ready.text


async def test_readiness_answers_fast_with_a_frozen_store_and_shows_the_backlog(
    tmp_path: Path, redis: RedisServer
) -> None:
    with influx_server(tmp_path / "influx") as influx:
        settings = make_settings(
            tmp_path / "data",
            metrics_url=influx.url("backlog"),
            ingest_buffer_url=redis.url,
            backend_timeout_seconds=5.0,
        )
        async with gateway(settings) as gql:
            await _write(gql, 0, 10)
            influx.pause()
            try:
                await _write(gql, 10, 10)  # times out at the store: acknowledged from the buffer
                began = time.monotonic()
                ready = await gql.http.get("/readyz")
                assert time.monotonic() - began < 2.5  # not the store's 5 s timeout
                assert ready.status_code == 503
                body: dict[str, Any] = ready.json()
                assert body["checks"]["metrics"] is False
                assert body["checks"]["buffer"] is True
                assert body["checks"]["buffer_drainer"] is True
                assert body["buffer_backlog"]["entries"] >= 1
                assert body["buffer_backlog"]["oldestSeconds"] >= 0
            finally:
                influx.resume()
            ready = await until_ready(gql.http)
            deadline = time.monotonic() + 30
            while (await _stored(gql)) < 20:
                assert time.monotonic() < deadline, "the backlog did not drain"
                await asyncio.sleep(0.25)
            drained = (await gql.http.get("/readyz")).json()
            assert drained["buffer_backlog"] == {"entries": 0, "oldestSeconds": 0.0}


async def test_a_frozen_store_is_not_waited_on_request_after_request(tmp_path: Path) -> None:
    """After three timeouts in a row the breaker opens: queries fail at once, the
    gauge says so, and the first trial after the store thaws closes it again."""
    query = '{ metrics(query: {name: "outage_probe", last: "1h"}) { name } }'
    with influx_server(tmp_path / "influx") as influx:
        settings = make_settings(
            tmp_path / "data", metrics_url=influx.url("breaker"), backend_timeout_seconds=1.0
        )
        async with gateway(settings) as gql:
            assert "errors" not in await gql.execute(query)
            influx.pause()
            try:
                for _ in range(3):  # each waits the whole timeout
                    body = await gql.execute(query)
                    assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
                began = time.monotonic()
                body = await gql.execute(query)
                assert time.monotonic() - began < 0.5
                assert body["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
                metrics = (await gql.http.get("/metrics")).text
                assert 'gateway_backend_breaker_open{backend="influxdb"} 1.0' in metrics
                ready = (await gql.http.get("/readyz")).json()
                assert ready["breakers"] == {"metrics": "open"}
            finally:
                influx.resume()
            deadline = time.monotonic() + 30
            while "errors" in await gql.execute(query):
                assert time.monotonic() < deadline, "the breaker never closed"
                await asyncio.sleep(0.2)
            metrics = (await gql.http.get("/metrics")).text
            assert 'gateway_backend_breaker_open{backend="influxdb"} 0.0' in metrics
