"""Benchmark 10: wide reads over 100,000 series, InfluxDB against the embedded store.

Two gateway processes with the same data: one on an `influxd` of its own, one
on its embedded store. Each gets `series` series of the metric `wide` (labels
`host` unique per series, `region` one of ten), `points` points each, written
through `POST /write`. Then, one request at a time, interleaved:

- per-series AVG: `metrics(query: {name: "wide", last: "1h", aggregation: AVG})`,
  one value for each of the series;
- a group-by over all of them: the same with `groupBy: ["region"]`, ten groups.

The figure is the InfluxDB gateway's p50 against the embedded one's. The
gateways get a backend timeout of 60 s, so the numbers show what each store
takes rather than where the default (5 s) would cut it off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.common import (
    Comparison,
    ServerProcess,
    clean_env,
    free_port,
    gateway_process,
    interleaved_ms,
    make_key,
    percentile,
    run_async,
    say,
    section,
)
from bench.ingest import influxd_server

ERROR_MARKER = b'"errors"'
QUERIES = {
    "per-series AVG": '{ metrics(query: {name: "wide", last: "1h", aggregation: AVG}) '
    "{ labels data } }",
    "group-by region": '{ metrics(query: {name: "wide", last: "1h", aggregation: AVG, '
    'groupBy: ["region"]}) { labels data } }',
}
EXPECTED_GROUPS = 10


@dataclass(frozen=True)
class CardinalityOptions:
    series: int = 100_000
    points: int = 2
    requests: int = 5
    warmup: int = 1


def _seed(base: str, key: str, options: CardinalityOptions) -> None:
    end = int(time.time() * 1000) - 60_000
    lines = [
        f"wide,host=h{s},region=r{s % EXPECTED_GROUPS} value={s % 97 + p} {end - p * 1000}"
        for s in range(options.series)
        for p in range(options.points)
    ]
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as http:
        for start in range(0, len(lines), 20_000):
            response = http.post(
                "/write",
                params={"precision": "ms"},
                content="\n".join(lines[start : start + 20_000]).encode(),
                headers={"Authorization": f"Bearer {key}"},
            )
            if response.status_code != 204:
                raise RuntimeError(f"seeding failed: {response.status_code} {response.text[:300]}")


def _check(base: str, key: str, options: CardinalityOptions) -> None:
    """Both gateways answer both queries with every series and every group."""
    headers = {"Authorization": f"Bearer {key}"}
    for name, query in QUERIES.items():
        response = httpx.post(
            f"{base}/graphql", json={"query": query}, headers=headers, timeout=120, trust_env=False
        )
        body = orjson.loads(response.content)
        if "errors" in body:
            raise RuntimeError(f"{name} on {base}: {body['errors'][0]}")
        wanted = options.series if name == "per-series AVG" else EXPECTED_GROUPS
        if len(body["data"]["metrics"]) != wanted:
            raise RuntimeError(f"{name} on {base}: {len(body['data']['metrics'])} of {wanted}")


def run(options: CardinalityOptions, workdir: Path) -> list[Comparison]:
    section(
        f"10. cardinality: {options.series:,} series x {options.points} points, InfluxDB "
        f"against the embedded store, {options.requests} requests each"
    )
    logs = workdir / "logs"
    influx, http_port = influxd_server(
        workdir / "cardinality_influx", logs / "influxd_cardinality.log"
    )
    slow = {"ANALYTICS_BACKEND_TIMEOUT_SECONDS": "60", "ANALYTICS_REQUEST_TIMEOUT_SECONDS": "120"}
    gateways: dict[str, tuple[ServerProcess, str, str]] = {}
    for name, extra in (
        ("influxdb", {"ANALYTICS_METRICS_URL": f"influxdb://127.0.0.1:{http_port}/wide"}),
        ("embedded", {}),
    ):
        data_dir = workdir / f"cardinality_{name}"
        key = run_async(make_key(data_dir, "ingest,read"))
        port = free_port()
        process = gateway_process(
            data_dir, port, log=logs / f"gateway_cardinality_{name}.log",
            env=clean_env({**slow, **extra}),
        )  # fmt: skip
        gateways[name] = (process, f"http://127.0.0.1:{port}", key)
    with influx, gateways["influxdb"][0], gateways["embedded"][0]:
        for _, base, key in gateways.values():
            _seed(base, key, options)
            _check(base, key, options)
        rows: list[Comparison] = []
        clients = {
            name: httpx.Client(base_url=base, trust_env=False, timeout=120,
                               headers={"Authorization": f"Bearer {key}"})
            for name, (_, base, key) in gateways.items()
        }  # fmt: skip
        try:
            for query_name, query in QUERIES.items():
                body = orjson.dumps({"query": query})
                senders = {
                    name: (
                        lambda c=client, b=body: c.post(
                            "/graphql", content=b, headers={"content-type": "application/json"}
                        )
                    )
                    for name, client in clients.items()
                }
                samples = interleaved_ms(
                    senders,
                    warmup=options.warmup,
                    requests=options.requests,
                    error_marker=ERROR_MARKER,
                )
                p50 = {name: percentile(v, 50) for name, v in samples.items()}
                say(
                    f"{query_name:>16}: InfluxDB p50 {p50['influxdb']:8.1f} ms, "
                    f"embedded p50 {p50['embedded']:8.1f} ms"
                )
                rows.append(
                    Comparison(
                        f"{options.series // 1000}k series, {query_name}: InfluxDB vs embedded",
                        "ms",
                        p50["influxdb"],
                        p50["embedded"],
                        higher_is_better=False,
                        target=None,
                    )
                )
        finally:
            for client in clients.values():
                client.close()
    return rows
