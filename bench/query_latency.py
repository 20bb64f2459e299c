"""Benchmark 1: HTTP latency of a GraphQL `metrics` query against a bare endpoint.

Both servers run in one separate process (`bench.query_server`) and read the
same DuckDB store object; this process is the client. Requests go one at a
time over one keep-alive connection per server, interleaved (gateway, bare,
gateway with gzip; the order rotates) so drift hits both sides alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.common import (
    Comparison,
    ServerProcess,
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
from bench.query_server import METRIC

QUERY = '{ metrics(query: {name: "%s", last: "1h"}) { labels data } }' % METRIC  # noqa: UP031

ERROR_MARKER = b'"errors"'  # in the first 200 bytes: the answer is an error


@dataclass(frozen=True)
class QueryOptions:
    series: int = 10
    points: int = 1000
    requests: int = 200
    warmup: int = 20


def run(options: QueryOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"1. query latency: {options.series} series x {options.points} points, "
        f"{options.requests} requests each"
    )
    data_dir = workdir / "query"
    key = run_async(make_key(data_dir, "read"))
    gateway_port, bare_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    bare_url = f"http://127.0.0.1:{bare_port}"
    args = [
        "--data-dir", str(data_dir), "--gateway-port", str(gateway_port),
        "--bare-port", str(bare_port), "--series", str(options.series),
        "--points", str(options.points),
    ]  # fmt: skip
    profile = profile_dir / "query_server.prof" if profile_dir else None
    server = ServerProcess(
        "query servers",
        python_argv("bench.query_server", args, profile),
        log=workdir / "logs" / "query_server.log",
        ready_urls=[f"{gateway_url}/readyz", f"{bare_url}/healthz"],
        timeout=120,
    )
    body = orjson.dumps({"query": QUERY})
    plain = {
        "Authorization": f"Bearer {key}",
        "content-type": "application/json",
        "accept-encoding": "identity",
    }
    gzipped = {**plain, "accept-encoding": "gzip"}
    bare_params = {"name": METRIC, "last_ms": "3600000"}

    with (
        server,
        httpx.Client(base_url=gateway_url, trust_env=False, timeout=30) as gw,
        httpx.Client(base_url=bare_url, trust_env=False, timeout=30) as bare,
    ):
        senders: dict[str, Callable[[], httpx.Response]] = {
            "gateway": lambda: gw.post("/graphql", content=body, headers=plain),
            "bare": lambda: bare.get("/metrics", params=bare_params),
            "gateway_gzip": lambda: gw.post("/graphql", content=body, headers=gzipped),
        }
        _, g = timed(senders["gateway"], ERROR_MARKER)
        _, b = timed(senders["bare"], ERROR_MARKER)
        _, z = timed(senders["gateway_gzip"], ERROR_MARKER)
        # the gateway's answer also says what it cost (`extensions.cost`)
        answers = [orjson.loads(r.content)["data"] for r in (g, b, z)]
        same = answers[0] == answers[1] == answers[2]
        series = orjson.loads(g.content)["data"]["metrics"]
        points = sum(len(s["data"]["t"]) for s in series)
        if not same or points != options.series * options.points:
            raise RuntimeError(f"gateway and bare answers differ (gateway has {points} points)")
        say(
            f"same answer from both: {len(series)} series, {points} points, "
            f"{len(g.content):,} bytes of JSON ({z.num_bytes_downloaded:,} bytes with gzip)"
        )
        samples = interleaved_ms(
            senders, warmup=options.warmup, requests=options.requests, error_marker=ERROR_MARKER
        )

    stats = {
        name: (percentile(v, 50), percentile(v, 95)) for name, v in samples.items()
    }  # fmt: skip
    for name, (p50, p95) in stats.items():
        say(f"{name:13s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    return [
        Comparison("query latency p50", "ms", stats["gateway"][0], stats["bare"][0],
                   higher_is_better=False, target=2.0),
        Comparison("query latency p95", "ms", stats["gateway"][1], stats["bare"][1],
                   higher_is_better=False, target=None),
        Comparison("query latency p50, gzip on", "ms", stats["gateway_gzip"][0],
                   stats["bare"][0], higher_is_better=False, target=None),
    ]  # fmt: skip
