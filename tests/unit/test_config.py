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


@pytest.mark.parametrize("text", ["", "5", "m5", "-1h", "0s", "1y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadUserInput):
        parse_duration_ms(text, field="last")
