"""Benchmark 2: InfluxDB line protocol ingest, gateway `POST /write` vs Debian's influxd 1.6.

Both servers get the very same request bodies (batches of lines, several
measurements and tags, millisecond timestamps, `precision=ms`), sent by the
same client with the same concurrency. Each server is started, warmed up with
one batch of another measurement, timed, checked (it must have stored every
point), and stopped before the other one runs.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.common import (
    Comparison,
    ServerProcess,
    cpu_meter,
    free_port,
    gateway_process,
    make_key,
    run_async,
    say,
    section,
)

MEASUREMENTS = ("cpu", "mem", "disk", "net")
HOSTS = 50
DATABASE = "bench"


@dataclass(frozen=True)
class IngestOptions:
    points: int = 200_000
    batch: int = 5000
    concurrency: int = 1


@dataclass
class Target:
    """Where and how to write, and how to count what was stored."""

    name: str
    url: str
    headers: dict[str, str]


def make_batches(points: int, batch: int, base_ms: int, measurements: Sequence[str]) -> list[bytes]:
    """`points` lines in bodies of `batch` lines; one point (field `value`) per line."""
    rng = random.Random(7)
    bodies: list[bytes] = []
    lines: list[str] = []
    for i in range(points):
        host = (i // len(measurements)) % HOSTS
        lines.append(
            f"{measurements[i % len(measurements)]},host=h{host},region=r{host % 4} "
            f"value={rng.uniform(0, 100):.3f} {base_ms + i}"
        )
        if len(lines) == batch:
            bodies.append("\n".join(lines).encode())
            lines = []
    if lines:
        bodies.append("\n".join(lines).encode())
    return bodies


async def send_all(target: Target, bodies: Sequence[bytes], concurrency: int) -> float:
    """Post every body with `concurrency` requests in flight; return the elapsed seconds."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(trust_env=False, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post(
                    target.url,
                    content=body,
                    params={"db": DATABASE, "precision": "ms"},
                    headers=target.headers,
                )
                if response.status_code != 204:
                    raise RuntimeError(
                        f"{target.name} refused a batch: {response.status_code} "
                        f"{response.text[:300]}"
                    )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def influx_config(root: Path, http_port: int, rpc_port: int) -> Path:
    """A minimal influxdb.conf for 1.6: own dirs and loopback ports, no phoning home."""
    text = f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / "meta"}"

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
"""
    path = root / "influxdb.conf"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def influxd_server(root: Path, log: Path) -> tuple[ServerProcess, int]:
    """Debian's influxd on its own dirs under `root` and free loopback ports (not yet
    started): the process, and its HTTP port."""
    influxd = shutil.which("influxd")
    if influxd is None:
        raise RuntimeError("influxd is not installed (Debian package `influxdb`)")
    http_port, rpc_port = free_port(), free_port()
    conf = influx_config(root, http_port, rpc_port)
    server = ServerProcess(
        "influxd",
        [influxd, "-config", str(conf)],
        log=log,
        ready_urls=[f"http://127.0.0.1:{http_port}/ping"],
    )
    return server, http_port


def influx_count(base: str) -> int:
    q = f"SELECT count(value) FROM {','.join(MEASUREMENTS)}"
    response = httpx.get(f"{base}/query", params={"db": DATABASE, "q": q}, trust_env=False)
    response.raise_for_status()
    total = 0
    for result in response.json()["results"]:
        for series in result.get("series", []):
            total += int(series["values"][0][1])
    return total


def gateway_count(base: str, key: str) -> int:
    fields = " ".join(
        f'{m}: metrics(query: {{name: "{m}", last: "48h", aggregation: COUNT, groupBy: []}})'
        " { data }"
        for m in MEASUREMENTS
    )
    response = httpx.post(
        f"{base}/graphql",
        json={"query": "{ " + fields + " }"},
        headers={"Authorization": f"Bearer {key}"},
        trust_env=False,
        timeout=60,
    )
    body = orjson.loads(response.content)
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"gateway count failed: {response.text[:300]}")
    return int(sum(v for m in MEASUREMENTS for s in body["data"][m] for v in s["data"]["v"]))


def _measure(
    server: ServerProcess, target: Target, warmup: bytes, bodies: Sequence[bytes], concurrency: int
) -> tuple[float, float]:
    """Warm up, then time the bodies; return (seconds, server CPU seconds)."""
    run_async(send_all(target, [warmup], 1))
    with cpu_meter(server) as cpu:
        seconds = run_async(send_all(target, bodies, concurrency))
    return seconds, cpu.seconds


def run(options: IngestOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"2. line protocol ingest: {options.points:,} points in batches of {options.batch:,}, "
        f"concurrency {options.concurrency}"
    )
    logs = workdir / "logs"
    influx, influx_port = influxd_server(workdir / "influxdb", logs / "influxd.log")
    influx_base = f"http://127.0.0.1:{influx_port}"
    base_ms = int(time.time() * 1000) - options.points - 60_000
    bodies = make_batches(options.points, options.batch, base_ms, MEASUREMENTS)
    [warmup] = make_batches(options.batch, options.batch, base_ms, ["warmup"])[:1]
    say(f"{len(bodies)} bodies, {sum(map(len, bodies)) / 1e6:.1f} MB, e.g. {bodies[0][:60]!r}")

    # influxd
    with influx:
        httpx.post(
            f"{influx_base}/query", params={"q": f"CREATE DATABASE {DATABASE}"}, trust_env=False
        ).raise_for_status()
        target = Target("influxd", f"{influx_base}/write", {})
        influx_s, influx_cpu = _measure(influx, target, warmup, bodies, options.concurrency)
        influx_stored = influx_count(influx_base)

    # gateway
    data_dir = workdir / "ingest"
    key = run_async(make_key(data_dir, "ingest,read,write"))
    port = free_port()
    gateway_base = f"http://127.0.0.1:{port}"
    profile = profile_dir / "gateway_ingest.prof" if profile_dir else None
    with gateway_process(data_dir, port, log=logs / "gateway_ingest.log", profile=profile) as gw:
        target = Target("gateway", f"{gateway_base}/write", {"Authorization": f"Token {key}"})
        gateway_s, gateway_cpu = _measure(gw, target, warmup, bodies, options.concurrency)
        gateway_stored = gateway_count(gateway_base, key)

    for name, stored in (("influxd", influx_stored), ("gateway", gateway_stored)):
        if stored != options.points:
            raise RuntimeError(f"{name} stored {stored} of {options.points} points")
    influx_rate = options.points / influx_s
    gateway_rate = options.points / gateway_s
    say(f"influxd: {influx_s:6.2f} s, {influx_rate:>10,.0f} points/s, CPU {influx_cpu:.2f} s")
    say(f"gateway: {gateway_s:6.2f} s, {gateway_rate:>10,.0f} points/s, CPU {gateway_cpu:.2f} s")
    say(f"both stored all {options.points:,} points (counted back after the run)")
    return [
        Comparison(
            f"line protocol ingest (c={options.concurrency})",
            "pts/s",
            gateway_rate,
            influx_rate,
            higher_is_better=True,
            target=0.5,
            notes=[
                f"server CPU per 100k points: gateway {gateway_cpu / options.points * 1e5:.2f} s,"
                f" influxd {influx_cpu / options.points * 1e5:.2f} s"
            ],
        )
    ]
