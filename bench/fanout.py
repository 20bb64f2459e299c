"""Benchmark 3: subscription fan-out to many WebSocket clients.

Two servers, each in its own process: the gateway (`python -m analytics_gateway
serve`) and the bare baseline (`bench.bare_ws`). This process holds the
subscribers of both (`bench.wsclient`, the same lean client for both) and the
publisher. Both servers stay up with all their clients connected; idle, they
cost nothing, so measurement rounds alternate gateway, bare, gateway, bare...
and drift on the machine hits both alike.

Each published point carries its sequence number as its value; the publisher
notes the (monotonic, machine-wide) clock just before its HTTP request, each
client notes the clock when the frame's bytes arrive. From that:

- latency: arrival - publish, over every (message, client) delivery;
- delivered msgs/s: deliveries / busy time, where busy time is the union of
  the intervals [publish of message i, last delivery of message i]. When a
  server keeps up it is `clients / fan-out time`; when it falls behind, the
  intervals overlap and are not counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    Comparison,
    ServerProcess,
    clean_env,
    cpu_meter,
    free_port,
    gateway_process,
    make_key,
    percentile,
    python_argv,
    run_async,
    say,
    section,
    union_length,
)
from bench.wsclient import Subscriber, open_subscriber

METRIC = "fan"
SUBSCRIPTION = 'subscription { metricPoints(name: "%s") { name labels timestamp value } }' % METRIC  # noqa: UP031
CONNECT_CONCURRENCY = 50
DELIVERY_TIMEOUT_S = 60.0

Publish = Callable[[httpx.AsyncClient, int], Awaitable[None]]


@dataclass(frozen=True)
class FanoutOptions:
    clients: int = 1000
    messages: int = 20
    rounds: int = 3
    interval_s: float = 0.1
    deflate: bool = True


@dataclass
class Totals:
    """What one server did over all its rounds."""

    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    expected: int = 0
    busy_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.busy_s if self.busy_s else 0.0


@dataclass
class Side:
    """One server under test, its subscribers and what they received."""

    name: str
    server: ServerProcess
    port: int
    publish: Publish
    times: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    frame_bytes: int = 0
    subscribers: list[Subscriber] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)

    def record(self, message: dict[str, Any], size: int, now: float) -> None:
        self.times[int(message["payload"]["data"]["metricPoints"]["value"])].append(now)
        self.frame_bytes = size

    async def all_arrived(self, seq: int) -> bool:
        return len(self.times.get(seq, ())) >= len(self.subscribers)


async def _wait_until(check: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


async def _connect(side: Side, key: str, options: FanoutOptions) -> None:
    init: dict[str, object] = {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {key}"},
    }
    subscribe: dict[str, object] = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": SUBSCRIPTION},
    }
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> Subscriber:
        async with limit:
            return await open_subscriber(
                "127.0.0.1", side.port, "/graphql", init, subscribe, side.record,
                deflate=options.deflate,
            )  # fmt: skip

    side.subscribers = await asyncio.gather(*(open_one() for _ in range(options.clients)))


async def _warm_up(side: Side, http: httpx.AsyncClient) -> None:
    """Publish negative sequence numbers until one reaches every client.

    Afterwards every subscription is live (a server may register them lazily).
    """
    deadline = time.monotonic() + 60
    seq = 0
    while True:
        seq -= 1
        await side.publish(http, seq)
        with contextlib.suppress(TimeoutError):
            await _wait_until(functools.partial(side.all_arrived, seq), 2, "warm-up")
            return
        if time.monotonic() > deadline:
            got = len(side.times.get(seq, ()))
            raise TimeoutError(
                f"{side.name}: after 60 s only {got} of {len(side.subscribers)} clients "
                "receive messages"
            )


async def _round(
    side: Side, http: httpx.AsyncClient, first_seq: int, options: FanoutOptions
) -> None:
    sent: dict[int, float] = {}
    client_cpu = time.process_time()
    with cpu_meter(side.server) as cpu:
        for seq in range(first_seq, first_seq + options.messages):
            started = time.monotonic()
            sent[seq] = started
            await side.publish(http, seq)
            pause = options.interval_s - (time.monotonic() - started)
            if pause > 0:
                await asyncio.sleep(pause)

        async def all_delivered() -> bool:
            return all([await side.all_arrived(seq) for seq in sent])

        # what has not arrived DELIVERY_TIMEOUT_S after the last publish counts as lost
        with contextlib.suppress(TimeoutError):
            await _wait_until(all_delivered, DELIVERY_TIMEOUT_S, "all deliveries")
    totals = side.totals
    totals.client_cpu_s += time.process_time() - client_cpu
    totals.server_cpu_s += cpu.seconds
    intervals: list[tuple[float, float]] = []
    for seq, at in sent.items():
        arrivals = side.times.get(seq, [])
        totals.latencies_ms += [(t - at) * 1000 for t in arrivals]
        totals.delivered += len(arrivals)
        if arrivals:
            intervals.append((at, max(arrivals)))
    totals.expected += len(sent) * len(side.subscribers)
    totals.busy_s += union_length(intervals)


async def _measure(sides: list[Side], key: str, options: FanoutOptions) -> None:
    try:
        for side in sides:
            await _connect(side, key, options)
        async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
            for side in sides:
                await _warm_up(side, http)
            for r in range(options.rounds):
                for side in sides if r % 2 == 0 else sides[::-1]:
                    await _round(side, http, 1 + r * options.messages, options)
    finally:
        subscribers = [s for side in sides for s in side.subscribers]
        for subscriber in subscribers:
            subscriber.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.closed for s in subscribers)), 10)


def _publisher(url: str, key: str) -> Publish:
    """POST one point `{name: fan, value: seq}`: the gateway's REST ingest body."""
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

    async def publish(http: httpx.AsyncClient, seq: int) -> None:
        body = orjson.dumps([{"name": METRIC, "value": seq, "labels": {}}])
        response = await http.post(url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"publish failed: {response.status_code} {response.text[:300]}")

    return publish


def _report(side: Side) -> None:
    t = side.totals
    lat = t.latencies_ms
    say(
        f"{side.name:7s}: {t.delivered:,}/{t.expected:,} delivered, {t.rate:,.0f} msgs/s over "
        f"{t.busy_s:.2f} s busy; latency p50 {percentile(lat, 50):.1f} ms, p99 "
        f"{percentile(lat, 99):.1f} ms, max {max(lat, default=float('nan')):.1f} ms; "
        f"CPU per 1k deliveries: server {t.server_cpu_s / max(t.delivered, 1) * 1e6:.0f} ms, "
        f"clients {t.client_cpu_s / max(t.delivered, 1) * 1e6:.0f} ms"
    )


def run(options: FanoutOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"3. subscription fan-out: {options.clients} WebSocket subscribers per server, "
        f"{options.messages} messages {options.interval_s * 1000:.0f} ms apart x {options.rounds}"
        f" round(s), permessage-deflate {'on' if options.deflate else 'off'}"
    )
    logs = workdir / "logs"
    data_dir = workdir / "fanout"
    key = run_async(make_key(data_dir, "ingest,read,write"))
    gateway_port, bare_port = free_port(), free_port()
    gateway_server = gateway_process(
        data_dir,
        gateway_port,
        log=logs / "gateway_fanout.log",
        profile=profile_dir / "gateway_fanout.prof" if profile_dir else None,
    )
    bare_server = ServerProcess(
        "bare fan-out server",
        python_argv("bench.bare_ws", ["--port", str(bare_port)]),
        log=logs / "bare_ws.log",
        ready_urls=[f"http://127.0.0.1:{bare_port}/stats"],
        env=clean_env(),
    )
    gateway = Side(
        "gateway",
        gateway_server,
        gateway_port,
        _publisher(f"http://127.0.0.1:{gateway_port}/analytics/metrics", key),
    )
    bare = Side(
        "bare", bare_server, bare_port, _publisher(f"http://127.0.0.1:{bare_port}/publish", key)
    )
    with gateway_server, bare_server:
        run_async(_measure([gateway, bare], key, options))
    for side in (gateway, bare):
        _report(side)
    if gateway.frame_bytes != bare.frame_bytes:
        say(f"note: frames differ in size: gateway {gateway.frame_bytes}, bare {bare.frame_bytes}")

    g, b = gateway.totals, bare.totals
    notes = [
        f"{side.name} lost {side.totals.expected - side.totals.delivered} of "
        f"{side.totals.expected} deliveries"
        for side in (gateway, bare)
        if side.totals.delivered < side.totals.expected
    ]
    notes.append(
        f"server CPU per 1,000 deliveries: gateway {g.server_cpu_s / max(g.delivered, 1) * 1e6:.0f}"
        f" ms, bare {b.server_cpu_s / max(b.delivered, 1) * 1e6:.0f} ms"
    )
    return [
        Comparison("fan-out delivered msgs/s", "msg/s", g.rate, b.rate,
                   higher_is_better=True, target=0.5, notes=notes),
        Comparison("fan-out latency p50", "ms", percentile(g.latencies_ms, 50),
                   percentile(b.latencies_ms, 50), higher_is_better=False, target=None),
        Comparison("fan-out latency p99", "ms", percentile(g.latencies_ms, 99),
                   percentile(b.latencies_ms, 99), higher_is_better=False, target=None),
    ]  # fmt: skip
