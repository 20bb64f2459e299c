"""Shared pieces: free ports, server processes, API keys, statistics and the table."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench"

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a client coroutine on uvloop when installed (as uvicorn does for servers)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coro)


# -- ports and processes -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The speed benchmarks measure the gateway, not its per-tenant limits: one tenant
# sends everything, far above the defaults. The buckets are still checked on every
# request (their cost is measured); `isolation` runs with the default limits.
UNLIMITED = ",".join(
    f"{name}=1e12"
    for name in (
        "requests_per_second",
        "request_burst",
        "points_per_second",
        "point_burst",
        "events_per_second",
        "event_burst",
        "query_points",
        "query_points_per_second",
        "query_point_burst",
        "active_series",
        "connections",
        "subscriptions",
        "alert_rules",
        "ml_jobs",
    )
)


def clean_env(extra: Mapping[str, str] | None = None, *, quotas: str = UNLIMITED) -> dict[str, str]:
    """This environment without `ANALYTICS_*` variables, so user settings cannot leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env["ANALYTICS_QUOTAS"] = quotas
    env.update(extra or {})
    return env


def python_argv(module: str, args: Sequence[str], profile: Path | None = None) -> list[str]:
    """`python -m module args`, under cProfile writing to `profile` when given."""
    if profile is None:
        return [sys.executable, "-m", module, *args]
    return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", module, *args]


class ServerProcess:
    """A server in its own process, logging to a file, stopped with SIGINT.

    SIGINT (not SIGTERM) lets uvicorn shut down gracefully and then lets Python
    unwind normally, so a cProfile wrapper still writes its output.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        ready_urls: Sequence[str] = (),
        ready_port: int | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.ready_urls = list(ready_urls)
        self.ready_port = ready_port
        self.env = dict(env) if env is not None else clean_env()
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {self.timeout}s:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.ready_urls:
            try:
                return all(httpx.get(u, timeout=1.0).status_code < 500 for u in self.ready_urls)
            except httpx.HTTPError:
                return False
        if self.ready_port is not None:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.ready_port), 0.2).close()
                return True
            return False
        return True

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gateway_process(
    data_dir: Path,
    port: int,
    *,
    log: Path,
    profile: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """The gateway as users run it: `python -m analytics_gateway serve`, default settings
    (but the per-tenant limits, unless `env` says otherwise)."""
    argv = python_argv(
        "analytics_gateway",
        ["serve", "--port", str(port), "--data-dir", str(data_dir)],
        profile,
    )
    return ServerProcess(
        "gateway",
        argv,
        log=log,
        ready_urls=[f"http://127.0.0.1:{port}/readyz"],
        env=env,
        timeout=60,
    )


async def make_key(data_dir: Path, scopes: str = "ingest,read,write", tenant: str = TENANT) -> str:
    """Create an API key in the data directory's config store (works while a server runs)."""
    settings = Settings.from_env({}, data_dir=data_dir)
    _, key = await create_key(build_config_store(settings), tenant, parse_scopes(scopes))
    return key


class CpuMeter:
    """CPU seconds a server process spends between `start()` and `stop()`."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._start = 0.0
        self.seconds = 0.0

    def start(self) -> None:
        self._start = self.server.cpu_seconds()

    def stop(self) -> float:
        self.seconds = self.server.cpu_seconds() - self._start
        return self.seconds


@contextlib.contextmanager
def cpu_meter(server: ServerProcess) -> Iterator[CpuMeter]:
    meter = CpuMeter(server)
    meter.start()
    try:
        yield meter
    finally:
        meter.stop()


# -- statistics ----------------------------------------------------------------


def timed(send: Callable[[], httpx.Response], error_marker: bytes) -> tuple[float, httpx.Response]:
    """One request: its milliseconds and its response, which must be a 200 whose first
    200 bytes do not hold `error_marker` (an error body would make a fast, false figure)."""
    started = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - started
    if response.status_code != 200 or error_marker in response.content[:200]:
        raise RuntimeError(f"bad response {response.status_code}: {response.text[:500]}")
    return elapsed * 1000, response


def interleaved_ms(
    senders: Mapping[str, Callable[[], httpx.Response]],
    *,
    warmup: int,
    requests: int,
    error_marker: bytes,
) -> dict[str, list[float]]:
    """Milliseconds per request of each sender: `warmup` untimed rounds, then `requests`
    rounds in which the sender going first rotates, so no side always follows another."""
    for _ in range(warmup):
        for send in senders.values():
            timed(send, error_marker)
    samples: dict[str, list[float]] = {name: [] for name in senders}
    order = list(senders)
    for i in range(requests):
        for name in order[i % len(order) :] + order[: i % len(order)]:
            samples[name].append(timed(senders[name], error_marker)[0])
    return samples


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, `q` in [0, 100]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping [start, end] intervals."""
    total = 0.0
    current_start = current_end = -math.inf
    for start, end in sorted(intervals):
        if start > current_end:
            if current_end > current_start:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end > current_start:
        total += current_end - current_start
    return total


# -- results -------------------------------------------------------------------


@dataclass
class Comparison:
    """One line of the summary: gateway against baseline, and the target on their ratio."""

    benchmark: str
    unit: str
    gateway: float
    baseline: float
    higher_is_better: bool
    target: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.gateway / self.baseline if self.baseline else math.nan

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g}"

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        if math.isnan(self.ratio):
            return "FAIL"
        ok = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "pass" if ok else "FAIL"


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.2f} {unit}"


def table(rows: Sequence[Comparison]) -> str:
    header = ("benchmark", "gateway", "baseline", "ratio", "target", "result")
    body = [
        (
            r.benchmark,
            fmt(r.gateway, r.unit),
            fmt(r.baseline, r.unit),
            "n/a" if math.isnan(r.ratio) else f"{r.ratio:.2f}",
            r.target_text,
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), rule, *(line(row) for row in body)])


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def say(text: str) -> None:
    print(f"  {text}", flush=True)
