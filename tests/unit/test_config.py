from __future__ import annotations

from pathlib import Path

import pytest

from analytics_gateway.config import Settings
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput


def test_environment_variables_and_overrides() -> None:
    env = {
        "ANALYTICS_PORT": "9100",
        "ANALYTICS_DEMO": "yes",
        "ANALYTICS_BROKER_URL": "redis://r:6379/1",
        "ANALYTICS_MAX_DEPTH": "7",
        "ANALYTICS_DATA_DIR": "/srv/ag",
    }
    settings = Settings.from_env(env, port=9200)
    assert settings.port == 9200
    assert settings.demo is True
    assert settings.broker_url == "redis://r:6379/1"
    assert settings.limits.max_depth == 7
    assert settings.data_dir == Path("/srv/ag")
    assert settings.resolved_metrics_url == "duckdb:////srv/ag/analytics.duckdb"


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="ANALYTICS_PORT: cannot read 'eighty' as int"):
        Settings.from_env({"ANALYTICS_PORT": "eighty"})


@pytest.mark.parametrize(
    ("text", "ms"), [("30s", 30_000), ("5m", 300_000), ("1h", 3_600_000), ("7d", 604_800_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5", "m5", "-1h", "0s", "1y", "1_0s", "\uff15m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadUserInput):
        parse_duration_ms(text, field="last")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0.5ms", "shorter than 1ms"),
        ("0.0001s", "shorter than 1ms"),
        ("9" * 400 + "h", "longer than the 36500d"),  # infinite as a float
        ("9" * 303 + "ms", "longer than the 36500d"),  # finite, far past int64
        ("1000000d", "longer than the 36500d"),  # overflows InfluxDB's durations
    ],
)
def test_durations_too_fine_or_too_long_are_user_errors(text: str, says: str) -> None:
    with pytest.raises(BadUserInput, match=says) as raised:
        parse_duration_ms(text, field="step")
    assert raised.value.extensions["field"] == "step"
    assert len(raised.value.message) < 200


def test_a_century_is_the_longest_duration() -> None:
    assert parse_duration_ms("36500d") == 36_500 * 86_400_000


def test_file_variables_carry_secrets(tmp_path: Path) -> None:
    secret = tmp_path / "metrics-url"
    secret.write_text("influxdb://writer:s3cret@influx:8086/metrics\n")
    settings = Settings.from_env({"ANALYTICS_METRICS_URL_FILE": str(secret)})
    assert settings.metrics_url == "influxdb://writer:s3cret@influx:8086/metrics"


def test_file_variable_and_plain_variable_together_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("redis://r/0")
    env = {"ANALYTICS_BROKER_URL": "memory://", "ANALYTICS_BROKER_URL_FILE": str(secret)}
    with pytest.raises(ValueError, match="ANALYTICS_BROKER_URL_FILE: ANALYTICS_BROKER_URL is"):
        Settings.from_env(env)


def test_unreadable_file_variable_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="ANALYTICS_CONFIG_URL_FILE: cannot read"):
        Settings.from_env({"ANALYTICS_CONFIG_URL_FILE": str(missing)})


@pytest.mark.parametrize(("backend", "request_"), [("0", "30"), ("30", "30"), ("40", "30")])
def test_backend_timeout_must_be_shorter_than_the_request_timeout(
    backend: str, request_: str
) -> None:
    env = {
        "ANALYTICS_BACKEND_TIMEOUT_SECONDS": backend,
        "ANALYTICS_REQUEST_TIMEOUT_SECONDS": request_,
    }
    with pytest.raises(ValueError, match="ANALYTICS_BACKEND_TIMEOUT_SECONDS must be"):
        Settings.from_env(env)
