"""Benchmark 4: the gateway on InfluxDB against InfluxDB itself, one `influxd` for both.

1. Ingest: the same line-protocol bodies (batches of lines, several
   measurements and tags, `precision=ms`) go to the gateway's `POST /write`
   (a gateway process whose `ANALYTICS_METRICS_URL` is this influxd) and
   straight to influxd's `/write`, one request at a time (or
   `--ingest-concurrency`), in alternating rounds. Both are counted back
   afterwards.
2. Query latency: a GraphQL `metrics` query (10 series x 1,000 points, raw)
   through the gateway, against the InfluxQL statement the gateway sends for
   it, posted straight to influxd's `/query` (`epoch=ms`, JSON as clients
   read it by default; no compression on either side). Requests go one at a
   time over one keep-alive connection each, interleaved. The gateway reads
   influxd's MessagePack answer, which costs influxd less than JSON; for
   information, a row also compares it with that MessagePack request.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from analytics_gateway.backends import influxql
from analytics_gateway.domain import MetricQuery
from bench.common import (
    TENANT,
    Comparison,
    ServerProcess,
    clean_env,
    cpu_meter,
    free_port,
    interleaved_ms,
    make_key,
    percentile,
    python_argv,
    run_async,
    say,
    section,
    timed,
)
from bench.ingest import (
    DATABASE,
    MEASUREMENTS,
    Target,
    gateway_count,
    influxd_server,
    make_batches,
    send_all,
)

GATEWAY_DATABASE = "gateway"
QUERY_METRIC = "bench_cpu"

ERROR_MARKER = b'"error'  # in the first 200 bytes: the answer is an error
INGEST_ROUNDS = 4


@dataclass(frozen=True)
class InfluxOptions:
    points: int = 200_000
    batch: int = 5000
    concurrency: int = 1
    series: int = 10
    series_points: int = 1000
    requests: int = 200
    warmup: int = 20


def _influx_count(base: str, database: str, where: str = "") -> int:
    q = f"SELECT count(value) FROM {','.join(MEASUREMENTS)} {where}"
    response = httpx.get(
        f"{base}/query", params={"db": database, "q": q}, trust_env=False, timeout=60
    )
    response.raise_for_status()
    return sum(
        int(s["values"][0][1])
        for result in response.json()["results"]
        for s in result.get("series", [])
    )


def _ingest(
    options: InfluxOptions, influx_base: str, gateway: ServerProcess, influx: ServerProcess,
    gateway_base: str, key: str,
) -> Comparison:  # fmt: skip
    base_ms = int(time.time() * 1000) - options.points - 60_000
    bodies = make_batches(options.points, options.batch, base_ms, MEASUREMENTS)
    [warmup] = make_batches(options.batch, options.batch, base_ms, ["warmup"])[:1]
    say(f"{len(bodies)} bodies, {sum(map(len, bodies)) / 1e6:.1f} MB, e.g. {bodies[0][:60]!r}")
    direct = Target("influxd", f"{influx_base}/write", {})
    through = Target("gateway", f"{gateway_base}/write", {"Authorization": f"Token {key}"})
    run_async(send_all(direct, [warmup], 1))
    run_async(send_all(through, [warmup], 1))
    # rounds alternate (direct, gateway, gateway, direct, ...) so that drift in the
    # machine's speed during the run falls on both sides alike
    rounds = [bodies[r::INGEST_ROUNDS] for r in range(INGEST_ROUNDS)]
    direct_s = gateway_s = influx_cpu_s = influx_cpu_gw_s = gateway_cpu_s = 0.0
    for index, part in enumerate(rounds):
        order = ("direct", "gateway") if index % 2 == 0 else ("gateway", "direct")
        for side in order:
            if side == "direct":
                with cpu_meter(influx) as influx_cpu:
                    direct_s += run_async(send_all(direct, part, options.concurrency))
                influx_cpu_s += influx_cpu.seconds
            else:
                with cpu_meter(influx) as influx_cpu_gw, cpu_meter(gateway) as gateway_cpu:
                    gateway_s += run_async(send_all(through, part, options.concurrency))
                influx_cpu_gw_s += influx_cpu_gw.seconds
                gateway_cpu_s += gateway_cpu.seconds
    stored = {
        "influxd": _influx_count(influx_base, DATABASE),
        "gateway": gateway_count(gateway_base, key),
    }
    for name, count in stored.items():
        if count != options.points:
            raise RuntimeError(f"{name} stored {count} of {options.points} points")
    direct_rate, gateway_rate = options.points / direct_s, options.points / gateway_s
    say(f"influxd direct: {direct_s:6.2f} s, {direct_rate:>10,.0f} points/s")
    say(f"gateway:        {gateway_s:6.2f} s, {gateway_rate:>10,.0f} points/s")
    say(f"both stored all {options.points:,} points (counted back after the run)")
    per = 1e5 / options.points
    return Comparison(
        f"influx ingest via gateway (c={options.concurrency})",
        "pts/s",
        gateway_rate,
        direct_rate,
        higher_is_better=True,
        target=0.5,
        notes=[
            f"CPU per 100k points: direct influxd {influx_cpu_s * per:.2f} s; via gateway:"
            f" gateway {gateway_cpu_s * per:.2f} s"
            f" + influxd {influx_cpu_gw_s * per:.2f} s"
        ],
    )


def _seed_query_data(options: InfluxOptions, gateway_base: str, key: str) -> None:
    rng = random.Random(42)
    end = int(time.time()) * 1000
    lines = [
        f"{QUERY_METRIC},host=h{s} value={rng.uniform(0, 100):.3f} "
        f"{end - (options.series_points - i) * 1000}"
        for s in range(options.series)
        for i in range(options.series_points)
    ]
    response = httpx.post(
        f"{gateway_base}/write",
        params={"precision": "ms"},
        content="\n".join(lines).encode(),
        headers={"Authorization": f"Token {key}"},
        trust_env=False,
        timeout=60,
    )
    if response.status_code != 204:
        raise RuntimeError(f"seeding failed: {response.status_code} {response.text[:300]}")


def _query_latency(
    options: InfluxOptions, influx_base: str, gateway_base: str, key: str
) -> list[Comparison]:
    _seed_query_data(options, gateway_base, key)
    body = orjson.dumps(
        {"query": '{ metrics(query: {name: "%s", last: "1h"}) { labels data } }' % QUERY_METRIC}  # noqa: UP031
    )
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json",
               "accept-encoding": "identity"}  # fmt: skip

    def direct_form() -> dict[str, str]:
        now = int(time.time() * 1000)
        query = MetricQuery(TENANT, QUERY_METRIC, (), now - 3_600_000, now + 1)
        statement = influxql.plan(query, influxql.ident(QUERY_METRIC), 1_000_001).statement
        assert statement is not None
        return {"q": statement, "db": GATEWAY_DATABASE, "epoch": "ms"}

    # the gateway asks influxd for MessagePack; the same request straight to influxd
    msgpack_headers = {"accept-encoding": "identity", "accept": "application/x-msgpack"}
    with (
        httpx.Client(base_url=gateway_base, trust_env=False, timeout=30) as gw,
        httpx.Client(base_url=influx_base, trust_env=False, timeout=30) as influx,
    ):
        senders: dict[str, Callable[[], httpx.Response]] = {
            "gateway": lambda: gw.post("/graphql", content=body, headers=headers),
            "influxql": lambda: influx.post(
                "/query", data=direct_form(), headers={"accept-encoding": "identity"}
            ),
            "msgpack": lambda: influx.post("/query", data=direct_form(), headers=msgpack_headers),
        }
        _, g = timed(senders["gateway"], ERROR_MARKER)
        _, d = timed(senders["influxql"], ERROR_MARKER)
        g_points = sum(len(s["data"]["t"]) for s in orjson.loads(g.content)["data"]["metrics"])
        d_points = sum(len(s["values"]) for s in orjson.loads(d.content)["results"][0]["series"])
        expected = options.series * options.series_points
        if g_points != expected or d_points != expected:
            raise RuntimeError(
                f"expected {expected} points: gateway {g_points}, influxd {d_points}"
            )
        say(
            f"same data from both: {expected} points; {len(g.content):,} bytes of JSON from the "
            f"gateway, {len(d.content):,} from influxd"
        )
        samples = interleaved_ms(
            senders, warmup=options.warmup, requests=options.requests, error_marker=ERROR_MARKER
        )
    stats = {name: (percentile(v, 50), percentile(v, 95)) for name, v in samples.items()}
    for name, (p50, p95) in stats.items():
        say(f"{name:9s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    return [
        Comparison("influx query latency p50", "ms", stats["gateway"][0], stats["influxql"][0],
                   higher_is_better=False, target=1.5),
        Comparison("influx query latency p95", "ms", stats["gateway"][1], stats["influxql"][1],
                   higher_is_better=False, target=None),
        Comparison("influx query p50 vs msgpack", "ms", stats["gateway"][0], stats["msgpack"][0],
                   higher_is_better=False, target=None),
    ]  # fmt: skip


def run(options: InfluxOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"4. InfluxDB backend: ingest {options.points:,} points in batches of {options.batch:,}"
        f" (c={options.concurrency}); query {options.series} x {options.series_points} points,"
        f" {options.requests} requests each"
    )
    logs = workdir / "logs"
    influx, http_port = influxd_server(workdir / "influx_backend", logs / "influxd_backend.log")
    influx_base = f"http://127.0.0.1:{http_port}"
    data_dir = workdir / "influx_gateway"
    key = run_async(make_key(data_dir, "ingest,read,write"))
    port = free_port()
    gateway_base = f"http://127.0.0.1:{port}"
    profile = profile_dir / "gateway_influx.prof" if profile_dir else None
    env = clean_env({"ANALYTICS_METRICS_URL": f"influxdb://127.0.0.1:{http_port}/gateway"})
    gateway = ServerProcess(
        "gateway",
        python_argv(
            "analytics_gateway", ["serve", "--port", str(port), "--data-dir", str(data_dir)],
            profile,
        ),
        log=logs / "gateway_influx.log",
        ready_urls=[f"{gateway_base}/readyz"],
        env=env,
    )  # fmt: skip
    with influx, gateway:
        httpx.post(
            f"{influx_base}/query", params={"q": f"CREATE DATABASE {DATABASE}"}, trust_env=False
        ).raise_for_status()
        rows = [_ingest(options, influx_base, gateway, influx, gateway_base, key)]
        rows += _query_latency(options, influx_base, gateway_base, key)
    return rows
