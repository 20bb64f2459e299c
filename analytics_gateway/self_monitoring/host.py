"""A host's CPU, memory, disk and network, read with psutil.

`HostSampler.sample()` returns the host series of `series` at once: gauges
(memory, disk usage) from the call itself, CPU use and byte rates over the
time since the previous call, so the first call only primes them. CPU use is
computed here from `cpu_times()` rather than with `psutil.cpu_percent()`,
whose "since the last call" is one state for the whole process: two samplers
in one process (the gateway's collector and a test) would each see the
other's calls.

Calls read `/proc` and block for microseconds to milliseconds: the collector
runs them in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from analytics_gateway.self_monitoring import series

# time counted twice on Linux: guest time is part of user and nice time already
_COUNTED_ELSEWHERE = ("guest", "guest_nice")
# waiting for I/O is idle CPU, as top and psutil count it
_IDLE = ("idle", "iowait")


@dataclass(frozen=True)
class Sample:
    """One value of one series, at the collection's time."""

    name: str
    value: float
    labels: Mapping[str, str]


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding `path` (its nearest existing ancestor)."""
    current = path.resolve()
    while not current.exists():
        current = current.parent
    while not current.is_mount() and current != current.parent:
        current = current.parent
    return current


def busy_percent(before: Any, after: Any) -> float | None:
    """Percent of time busy between two `cpu_times()` readings; None without time passed."""
    total_before, idle_before = _total_and_idle(before)
    total_after, idle_after = _total_and_idle(after)
    elapsed = total_after - total_before
    if elapsed <= 0:
        return None
    busy = elapsed - (idle_after - idle_before)
    return min(100.0, max(0.0, 100.0 * busy / elapsed))


def _total_and_idle(times: Any) -> tuple[float, float]:
    fields: dict[str, float] = times._asdict()
    total = sum(v for k, v in fields.items() if k not in _COUNTED_ELSEWHERE)
    idle = sum(fields.get(k, 0.0) for k in _IDLE)
    return total, idle


@dataclass(frozen=True)
class _Counters:
    at: float
    cpu: Any
    cores: list[Any]
    disk: Any | None
    nics: dict[str, tuple[int, int]]


class HostSampler:
    """The host series of one host, labelled `host=<hostname>`."""

    def __init__(
        self,
        hostname: str,
        disk_path: Path,
        *,
        per_cpu: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hostname = hostname
        self.mount = mount_point(disk_path)
        self._per_cpu = per_cpu
        self._monotonic = monotonic
        self._labels = {"host": hostname}
        self._previous: _Counters | None = None

    def _read_counters(self) -> _Counters:
        return _Counters(
            at=self._monotonic(),
            cpu=psutil.cpu_times(),
            cores=list(psutil.cpu_times(percpu=True)) if self._per_cpu else [],
            disk=psutil.disk_io_counters(perdisk=False),
            nics=_network_counters(),
        )

    def prime(self) -> None:
        """Read the counters that rates are measured from; `sample()` does it too."""
        self._previous = self._read_counters()

    def sample(self) -> list[Sample]:
        now = self._read_counters()
        before, self._previous = self._previous, now
        out = self._gauges()
        if before is None:
            return out
        seconds = now.at - before.at
        if seconds <= 0:
            return out
        cpu = busy_percent(before.cpu, now.cpu)
        if cpu is not None:
            out.append(Sample(series.CPU_USAGE, cpu, self._labels))
        for index, (was, is_) in enumerate(zip(before.cores, now.cores, strict=False)):
            core = busy_percent(was, is_)
            if core is not None:
                labels = {**self._labels, "cpu": str(index)}
                out.append(Sample(series.CPU_CORE_USAGE, core, labels))
        if before.disk is not None and now.disk is not None:
            for name, field in (
                (series.DISK_READ, "read_bytes"),
                (series.DISK_WRITE, "write_bytes"),
            ):
                delta = getattr(now.disk, field) - getattr(before.disk, field)
                out.append(Sample(name, max(0, delta) / seconds, self._labels))
        sent = received = 0
        for nic, (was_sent, was_received) in before.nics.items():
            if nic in now.nics:  # an interface that went away (or reset) counts for nothing
                now_sent, now_received = now.nics[nic]
                sent += max(0, now_sent - was_sent)
                received += max(0, now_received - was_received)
        out.append(Sample(series.NETWORK_SENT, sent / seconds, self._labels))
        out.append(Sample(series.NETWORK_RECEIVED, received / seconds, self._labels))
        return out

    def _gauges(self) -> list[Sample]:
        memory = psutil.virtual_memory()
        used = float(memory.total - memory.available)
        disk = psutil.disk_usage(str(self.mount))
        disk_labels = {**self._labels, "path": str(self.mount)}
        return [
            Sample(series.MEMORY_USAGE, 100.0 * used / memory.total, self._labels),
            Sample(series.MEMORY_USED, used, self._labels),
            Sample(series.MEMORY_AVAILABLE, float(memory.available), self._labels),
            Sample(series.DISK_USAGE, float(disk.percent), disk_labels),
            Sample(series.DISK_USED, float(disk.used), disk_labels),
            Sample(series.DISK_FREE, float(disk.free), disk_labels),
        ]


def _network_counters() -> dict[str, tuple[int, int]]:
    """(bytes sent, bytes received) per interface, loopback left out."""
    stats = psutil.net_if_stats()
    counters: dict[str, Any] = psutil.net_io_counters(pernic=True)
    return {
        name: (int(c.bytes_sent), int(c.bytes_recv))
        for name, c in counters.items()
        if not _loopback(name, stats.get(name))
    }


def _loopback(name: str, stats: Any) -> bool:
    if stats is not None and "loopback" in str(getattr(stats, "flags", "")).split(","):
        return True
    return name == "lo"
