"""Reading `influxdb://` URLs: endpoint, database, retention policy and credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.factory import build_backends
from analytics_gateway.backends.influxdb_store import InfluxDBStore, InfluxTarget
from analytics_gateway.config import Settings
from tests.conftest import backend_calls


@pytest.mark.parametrize(
    ("url", "base", "database"),
    [
        ("influxdb://db.local/metrics", "http://db.local:8086", "metrics"),
        ("influxdb://db.local:9999/metrics/", "http://db.local:9999", "metrics"),
        ("influxdb+https://cloud.example/metrics", "https://cloud.example:443", "metrics"),
        ("influxdb://proxy:80/influx/v1/metrics", "http://proxy:80/influx/v1", "metrics"),
        ("influxdb://[::1]:8086/m%20x", "http://[::1]:8086", "m x"),
    ],
)
def test_endpoint_and_database_come_from_the_url(url: str, base: str, database: str) -> None:
    target = InfluxTarget.from_url(url)
    assert (target.base_url, target.database) == (base, database)
    assert (target.username, target.password, target.token) == (None, None, None)


def test_user_and_password_are_basic_auth_percent_decoded() -> None:
    target = InfluxTarget.from_url("influxdb://ops:p%40ss%3Aw0rd@h:8086/db?rp=week")
    assert (target.username, target.password, target.token) == ("ops", "p@ss:w0rd", None)
    assert target.retention_policy == "week"
    assert target.headers() == {"Authorization": "Basic b3BzOnBAc3M6dzByZA=="}  # ops:p@ss:w0rd


@pytest.mark.parametrize(
    "url",
    ["influxdb://:tok%2Fen@h/db", "influxdb://h/db?token=tok/en", "influxdb://h/db?token=tok%2Fen"],
)
def test_a_token_or_a_lone_password_is_a_token_header(url: str) -> None:
    target = InfluxTarget.from_url(url)
    assert (target.token, target.username, target.password) == ("tok/en", None, None)
    assert target.headers() == {"Authorization": "Token tok/en"}


@pytest.mark.parametrize(
    ("url", "gzip"),
    [
        ("influxdb://db.local/m", True),
        ("influxdb://127.0.0.1:8086/m", False),
        ("influxdb://localhost/m", False),
        ("influxdb://[::1]/m", False),
        ("influxdb://127.0.0.1/m?gzip=true", True),
        ("influxdb://db.local/m?gzip=false", False),
    ],
)
def test_writes_are_gzipped_except_on_loopback(url: str, gzip: bool) -> None:
    assert InfluxTarget.from_url(url).gzip is gzip


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("influxdb://h", "database"),
        ("influxdb:///db", "host"),
        ("influxdb://h/db?retention=x", "unknown parameters"),
        ("influxdb://u:p@h/db?token=t", "either"),
        ("http://h/db", "not an InfluxDB URL"),
        ("influxdb://h/db?gzip=maybe", "gzip must be"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InfluxTarget.from_url(url)


async def test_influx_metrics_keep_events_in_a_duckdb_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data", metrics_url="influxdb://h:1/db")
    assert (
        settings.resolved_events_url
        == f"duckdb:///{(tmp_path / 'data').resolve()}/analytics.duckdb"
    )
    registry = CollectorRegistry()
    backends = build_backends(settings, registry)  # nothing connects yet
    try:
        assert isinstance(backends.metrics, InfluxDBStore)
        assert isinstance(backends.events, DuckDBStore)
        assert backend_calls(registry, "influxdb") == 0
    finally:
        await backends.close()
