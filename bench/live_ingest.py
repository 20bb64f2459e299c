"""Benchmark 8: line-protocol ingest with and without live subscribers on the same gateway.

Live fan-out must never hold ingest back: past its share of the event loop it
sheds messages (counted) instead of slowing writes. One gateway process, one
writer offering a steady load (open loop: a `/write` of `batch` lines every
`interval`, whether or not the previous one has been answered), in two phases
of equal length:

- **none**: no subscriber;
- **with**: `subscribers` WebSocket clients, each subscribed with
  `metricPoints(name, labels: {host})` to one of the written hosts, as live
  dashboards are.

Compared, the second phase against the first: `/write` p99 latency (target
<= 2x) and points acknowledged per second (acknowledged points over the time
from the first send to the last answer; target >= 0.8x).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Comparison,
    free_port,
    gateway_process,
    make_key,
    percentile,
    run_async,
    say,
    section,
)
from bench.wsclient import Subscriber, open_subscriber

METRIC = "live"
HOSTS = 50
CONNECT_CONCURRENCY = 50


@dataclass(frozen=True)
class LiveIngestOptions:
    subscribers: int = 500
    points_per_second: int = 5000
    batch: int = 500
    seconds: float = 10.0


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    acked: int = 0
    refused: int = 0
    first_send: float = 0.0
    last_answer: float = 0.0
    deliveries: int = 0

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def ack_rate(self) -> float:
        span = self.last_answer - self.first_send
        return self.acked / span if span > 0 else 0.0


def _body(batch: int, start_ms: int, sequence: int) -> bytes:
    return "\n".join(
        f"{METRIC},host=h{(sequence * batch + i) % HOSTS} value={i} {start_ms + i}"
        for i in range(batch)
    ).encode()


async def _write_for(url: str, key: str, options: LiveIngestOptions, phase: Phase) -> None:
    """Offer `points_per_second` for `seconds`, open loop; note each answer."""
    interval = options.batch / options.points_per_second
    sends = int(options.seconds / interval)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Token {key}"}
    base_ms = int(time.time() * 1000) - 3_600_000

    async with httpx.AsyncClient(trust_env=False, timeout=120, limits=limits) as client:

        async def one(sequence: int) -> None:
            body = _body(options.batch, base_ms + sequence * options.batch, sequence)
            sent = time.perf_counter()
            response = await client.post(
                url, content=body, params={"precision": "ms"}, headers=headers
            )
            answered = time.perf_counter()
            phase.last_answer = max(phase.last_answer, answered)
            if response.status_code == 204:
                phase.acked += options.batch
                phase.latencies_ms.append((answered - sent) * 1000)
            else:
                phase.refused += 1

        tasks: list[asyncio.Task[None]] = []
        phase.first_send = time.perf_counter()
        for sequence in range(sends):
            due = phase.first_send + sequence * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(sequence)))
        await asyncio.gather(*tasks)


async def _measure(port: int, key: str, options: LiveIngestOptions) -> tuple[Phase, Phase]:
    url = f"http://127.0.0.1:{port}/write"
    none = Phase("none")
    await _write_for(url, key, dataclasses.replace(options, seconds=2.0), Phase("warm-up"))
    await _write_for(url, key, options, none)

    with_subscribers = Phase("with")

    def counted(message: dict[str, Any], size: int, arrived: float) -> None:
        with_subscribers.deliveries += 1

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    init: dict[str, object] = {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {key}"},
    }

    async def subscribe(i: int) -> Subscriber:
        query = (
            f'subscription {{ metricPoints(name: "{METRIC}", labels: {{host: "h{i % HOSTS}"}}) '
            "{ name labels timestamp value } }"
        )
        async with gate:
            return await open_subscriber(
                "127.0.0.1", port, "/graphql", init,
                {"id": "1", "type": "subscribe", "payload": {"query": query}}, counted,
            )  # fmt: skip

    subscribers = await asyncio.gather(*(subscribe(i) for i in range(options.subscribers)))
    try:
        await asyncio.sleep(1.0)  # let every subscription reach the hub
        await _write_for(url, key, options, with_subscribers)
    finally:
        for subscriber in subscribers:
            subscriber.close()
    return none, with_subscribers


def run(options: LiveIngestOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"8. ingest beside live fan-out: {options.points_per_second:,} points/s offered as "
        f"/write of {options.batch} lines, {options.seconds:g} s without and with "
        f"{options.subscribers} subscribers"
    )
    data_dir = workdir / "live_ingest"
    key = run_async(make_key(data_dir, "ingest,read"))
    port = free_port()
    profile = profile_dir / "gateway_live_ingest.prof" if profile_dir else None
    with gateway_process(data_dir, port, log=workdir / "logs" / "gateway_live_ingest.log",
                         profile=profile):  # fmt: skip
        none, with_subscribers = run_async(_measure(port, key, options))
    for phase in (none, with_subscribers):
        say(
            f"{phase.name:>5}: /write p50 {percentile(phase.latencies_ms, 50):7.1f} ms, "
            f"p99 {phase.p99:7.1f} ms, {phase.ack_rate:8,.0f} points/s acknowledged, "
            f"{phase.refused} refused, {phase.deliveries:,} live deliveries"
        )
    if none.refused or with_subscribers.refused:
        raise RuntimeError("the gateway refused writes; see its log")
    note = f"{with_subscribers.deliveries:,} live messages delivered during the second phase"
    return [
        Comparison(
            f"/write p99 with {options.subscribers} subscribers",
            "ms",
            with_subscribers.p99,
            none.p99,
            higher_is_better=False,
            target=2.0,
            notes=[note],
        ),
        Comparison(
            f"points acked/s with {options.subscribers} subscribers",
            "pts/s",
            with_subscribers.ack_rate,
            none.ack_rate,
            higher_is_better=True,
            target=0.8,
        ),
    ]
