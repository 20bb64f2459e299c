"""Benchmark 11: what tracing costs a query, sampled at 100% and at 0%, against off.

Three gateways (`serve`, default settings) on three copies of the same data:
tracing off (no OTLP endpoint); on, every trace sampled and exported over
OTLP/HTTP to a receiver in this process that reads and discards them; on but
sampled at 0% (`traceidratio`, argument 0), which still creates a context per
request. The query is benchmark 1's (10 series x 1000 points), one request at
a time, interleaved over the three (the order rotates). Targets: p50 within
1.15x of off when sampled, within 1.03x when configured but never sampled.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

METRIC = "bench_cpu"
QUERY = '{ metrics(query: {name: "%s", last: "1h"}) { labels data } }' % METRIC  # noqa: UP031
ERROR_MARKER = b'"errors"'
VARIANTS = {
    "off": {},
    "sampled": {"OTEL_TRACES_SAMPLER": "always_on"},
    "sampled 0%": {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
}


@dataclass(frozen=True)
class TracingOptions:
    series: int = 10
    points: int = 1000
    requests: int = 200
    warmup: int = 20


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that takes every export and keeps nothing but a count."""

    received = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        type(self).received += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def _receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _seed_lines(series: int, points: int) -> str:
    end = int(time.time()) * 1000
    return "\n".join(
        f"{METRIC},host=h{s} value={(s * 31 + i * 7) % 100} {end - (points - i) * 1000}"
        for s in range(series)
        for i in range(points)
    )


def run(options: TracingOptions, workdir: Path) -> list[Comparison]:
    section(
        f"11. tracing overhead: {options.series} series x {options.points} points, "
        f"{options.requests} requests each, off / sampled / sampled at 0%"
    )
    lines = _seed_lines(options.series, options.points)
    with _receiver() as endpoint, contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        keys: dict[str, str] = {}
        for name, extra in VARIANTS.items():
            slug = name.replace(" ", "_").replace("%", "")
            data_dir = workdir / f"tracing_{slug}"
            keys[name] = run_async(make_key(data_dir, "ingest,read"))
            env = {k: v for k, v in clean_env().items() if not k.startswith("OTEL_")}
            if extra:
                env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "500"}
                env |= extra
            port = free_port()
            server: ServerProcess = gateway_process(
                data_dir, port, log=workdir / "logs" / f"gateway_tracing_{slug}.log", env=env
            )
            stack.enter_context(server)
            urls[name] = f"http://127.0.0.1:{port}"
        clients = {
            name: stack.enter_context(httpx.Client(base_url=url, trust_env=False, timeout=30))
            for name, url in urls.items()
        }
        for name, http in clients.items():
            written = http.post(
                "/write",
                content=lines,
                params={"precision": "ms"},
                headers={"Authorization": f"Token {keys[name]}"},
            )
            if written.status_code != 204:
                raise RuntimeError(f"seeding {name} failed: {written.text[:300]}")
        body = orjson.dumps({"query": QUERY})

        def sender(name: str) -> Callable[[], httpx.Response]:
            headers = {
                "Authorization": f"Bearer {keys[name]}",
                "content-type": "application/json",
                "accept-encoding": "identity",
            }
            return lambda: clients[name].post("/graphql", content=body, headers=headers)

        senders = {name: sender(name) for name in VARIANTS}
        traced = orjson.loads(senders["sampled"]().content)
        if "traceId" not in traced.get("extensions", {}):
            raise RuntimeError("the sampled gateway answered without a trace id: tracing is off")
        samples = interleaved_ms(
            senders, warmup=options.warmup, requests=options.requests, error_marker=ERROR_MARKER
        )
        deadline = time.monotonic() + 30
        while _Sink.received == 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the batch processor exports every 500 ms
        if _Sink.received == 0:
            raise RuntimeError("the sampled gateway exported nothing")
    p50 = {name: percentile(values, 50) for name, values in samples.items()}
    for name, values in samples.items():
        say(f"{name:11s} p50 {p50[name]:7.2f} ms   p95 {percentile(values, 95):7.2f} ms")
    say(f"OTLP exports received: {_Sink.received}")
    return [
        Comparison("query p50, tracing sampled 100%", "ms", p50["sampled"], p50["off"],
                   higher_is_better=False, target=1.15),
        Comparison("query p50, tracing sampled 0%", "ms", p50["sampled 0%"], p50["off"],
                   higher_is_better=False, target=1.03),
    ]  # fmt: skip


__all__ = ["TracingOptions", "run"]
