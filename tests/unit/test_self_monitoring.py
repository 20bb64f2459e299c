"""Self-monitoring's parts on their own: quantiles from real histograms, the agent's line
protocol read back by the gateway's own parser, what the agent makes of an answer,
the operator tenant's room in its quotas, and a real host sample."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram

from analytics_gateway import lineprotocol
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.quotas import OPERATOR_ROOM, Quotas, TenantQuotas
from analytics_gateway.self_monitoring import series
from analytics_gateway.self_monitoring.agent import Verdict, encode_body, judge
from analytics_gateway.self_monitoring.gateway import histogram_buckets, quantile
from analytics_gateway.self_monitoring.host import HostSampler, Sample, mount_point


def observed(values: list[float], buckets: tuple[float, ...]) -> list[tuple[float, float]]:
    histogram = Histogram("h_seconds", "h", ["kind"], buckets=buckets, registry=CollectorRegistry())
    for value in values:
        histogram.labels(kind="query").observe(value)
    histogram.labels(kind="subscription").observe(1000)  # left out below
    return histogram_buckets(histogram, lambda labels: labels.get("kind") == "query")


def test_quantiles_interpolate_within_buckets_as_promql_does() -> None:
    uniform = [i / 1000 for i in range(1, 1001)]  # 1 ms .. 1 s, evenly
    buckets = observed(uniform, (0.1, 0.25, 0.5, 1.0))
    assert quantile(0.5, buckets) == pytest.approx(0.5, abs=0.01)
    assert quantile(0.95, buckets) == pytest.approx(0.95, abs=0.01)
    # beyond the last finite bound: that bound, as histogram_quantile says
    assert quantile(0.95, observed([5.0, 6.0], (0.1, 1.0))) == 1.0
    assert quantile(0.5, observed([], (0.1, 1.0))) is None


def test_agent_lines_read_back_as_the_samples_they_carry() -> None:
    samples = [
        Sample(series.CPU_USAGE, 12.5, {"host": "web 1,a=b"}),
        Sample(series.DISK_USAGE, 40.0, {"host": "web-1", "path": "/var/lib data"}),
        Sample(series.NETWORK_SENT, 1e-05, {"host": "web-1", "empty": ""}),
    ]
    body = encode_body(samples, 1_700_000_000_123).decode()
    parsed, rejected = lineprotocol.parse_body(body, "ms")
    assert rejected == []
    assert parsed.names == [series.CPU_USAGE, series.DISK_USAGE, series.NETWORK_SENT]
    assert [parsed.labels[key] for key in parsed.series] == [
        {"host": "web 1,a=b"},
        {"host": "web-1", "path": "/var/lib data"},
        {"host": "web-1"},  # an empty tag cannot be written: left out
    ]
    assert parsed.values == [12.5, 40.0, 1e-05]
    assert parsed.timestamps == [1_700_000_000_123] * 3


URL = "http://gateway:8000/write"


@pytest.mark.parametrize(
    ("status", "body", "headers", "verdict", "says"),
    [
        (204, b"", {}, Verdict.DELIVERED, ""),
        (
            401,
            b'{"errors": [{"message": "invalid or revoked API key"}]}',
            {},
            Verdict.FATAL,
            "the gateway refused the key (401: invalid or revoked API key); check --key",
        ),
        (403, b"{}", {}, Verdict.FATAL, "the key may not write points (403)"),
        (404, b"Not Found", {}, Verdict.FATAL, f"{URL} answers 404"),
        (307, b"", {"location": "https://g/write"}, Verdict.FATAL, "redirects to https://g/write"),
        (400, b'{"message": "partial write: 1 line(s)"}', {}, Verdict.DROPPED, "partial write"),
        (429, b"{}", {"retry-after": "3"}, Verdict.RETRY, "answered 429"),
        (503, b"busy", {}, Verdict.RETRY, "the gateway answered 503"),
    ],
)
def test_what_the_agent_makes_of_an_answer(
    status: int, body: bytes, headers: dict[str, str], verdict: Verdict, says: str
) -> None:
    answer = judge(status, body, headers, URL)
    assert answer.verdict is verdict
    assert says in answer.message
    assert answer.retry_after == (3.0 if status == 429 else None)


async def test_the_operator_tenant_starts_with_room_and_takes_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, quotas="points_per_second=1000")
    store = build_config_store(settings)
    try:
        quotas = Quotas.of_settings(settings, store)
        tenant, operator = await quotas.of("acme"), await quotas.of(settings.self_tenant)
        assert tenant == TenantQuotas.parse("points_per_second=1000")
        assert operator.points_per_second == 1000 * OPERATOR_ROOM
        assert operator.requests_per_second == tenant.requests_per_second * OPERATOR_ROOM
        assert operator.active_series == tenant.active_series * OPERATOR_ROOM
        assert operator.concurrent_requests == tenant.concurrent_requests * 4
        assert operator.heavy_reads == tenant.heavy_reads * 4
        assert operator.alert_rules == tenant.alert_rules
        changed = await quotas.override(settings.self_tenant, {"requests_per_second": 5})
        assert changed.requests_per_second == 5
        assert changed.points_per_second == 1000 * OPERATOR_ROOM  # the room stays
    finally:
        await store.close()


def test_self_monitoring_settings_are_checked() -> None:
    assert Settings.from_env({}).self_tenant == "_system"
    assert Settings.from_env({}).self_interval_seconds == 10.0
    off = Settings.from_env({"ANALYTICS_SELF_INTERVAL_SECONDS": "0"})
    assert off.self_interval_seconds == 0
    with pytest.raises(ValueError, match="ANALYTICS_SELF_TENANT: 'ops team' is not a tenant"):
        Settings.from_env({"ANALYTICS_SELF_TENANT": "ops team"})
    with pytest.raises(ValueError, match="ANALYTICS_SELF_INTERVAL_SECONDS must be 0"):
        Settings.from_env({"ANALYTICS_SELF_INTERVAL_SECONDS": "-1"})


def test_a_host_sample_primes_then_measures(tmp_path: Path) -> None:
    ticks = itertools.count(0.0, 2.0)
    sampler = HostSampler("h1", tmp_path / "not-yet", per_cpu=True, monotonic=lambda: next(ticks))
    assert sampler.mount == mount_point(tmp_path)
    first = {s.name for s in sampler.sample()}  # gauges only: rates need a span
    assert first == {
        series.MEMORY_USAGE, series.MEMORY_USED, series.MEMORY_AVAILABLE,
        series.DISK_USAGE, series.DISK_USED, series.DISK_FREE,
    }  # fmt: skip
    give_up = time.monotonic() + 30
    while True:  # CPU time advances in ticks (10 ms): until one passed since the last sample
        second = sampler.sample()
        names = {s.name for s in second}
        if series.CPU_USAGE in names:
            break
        assert time.monotonic() < give_up, names
        time.sleep(0.01)
    assert first | {series.NETWORK_SENT, series.NETWORK_RECEIVED} <= names
    for sample in second:
        assert sample.labels["host"] == "h1"
        assert sample.value >= 0
        if sample.name.endswith("usage"):
            assert sample.value <= 100, sample
    disk = [s for s in second if s.name == series.DISK_USAGE]
    assert [s.labels for s in disk] == [{"host": "h1", "path": str(mount_point(tmp_path))}]
