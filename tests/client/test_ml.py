"""The brief's anomaly detection and forecasts through the client."""

from __future__ import annotations

import pytest
from analytics_gateway_client import AnalyticsClient, ModelKind, PredictiveAnalytics

from tests.client.helpers import STEP, wave, write_series

N = 600
SPIKE = 560


async def test_detect_finds_the_spike_per_series(acme: AnalyticsClient) -> None:
    end = await write_series(acme, "cpu_usage", wave(N, spike_at=SPIKE), {"host": "web-1"})
    await write_series(acme, "cpu_usage", wave(N, seed=1), {"host": "web-2"})
    await write_series(acme, "memory_usage", wave(N, seed=2), {"host": "web-1"})

    reports = await acme.anomalies.detect(
        ["cpu_usage", "memory_usage"], window="12h", detector="hbos", tenant_id="acme"
    )
    by_series = {(r.metric, r.labels["host"]): r for r in reports}
    assert set(by_series) == {
        ("cpu_usage", "web-1"),
        ("cpu_usage", "web-2"),
        ("memory_usage", "web-1"),
    }
    spiked = by_series["cpu_usage", "web-1"]
    assert (spiked.detector, spiked.walk_forward, spiked.points) == ("hbos", True, N)
    assert spiked.threshold == pytest.approx(0.997)
    [spike] = [a for a in spiked.anomalies if a.value > 80]
    assert spike.timestamp == pytest.approx(end - (N - 1 - SPIKE) * STEP, abs=STEP / 1000)
    assert spike.score >= spiked.threshold
    assert spike.expected_lower < 60 < spike.expected_upper < spike.value

    [one] = await acme.anomalies.detect("cpu_usage", "12h", labels={"host": "web-1"}, limit=1)
    assert len(one.anomalies) <= 1


async def test_forecast_with_its_confidence_interval(acme: AnalyticsClient) -> None:
    await write_series(acme, "user_growth", wave(N, seed=3), {"plan": "family"})
    analytics = PredictiveAnalytics(acme)
    forecast = await analytics.forecast(
        metric="user_growth", horizon="1h", confidence_interval=0.9, model="ets", window="1d"
    )
    assert (forecast.metric, forecast.labels, forecast.model) == (
        "user_growth",
        {"plan": "family"},
        "ets",
    )
    assert len(forecast.data) == len(forecast.lower) == len(forecast.upper) == 60
    assert all(
        lo <= v <= hi
        for lo, v, hi in zip(forecast.lower.v, forecast.data.v, forecast.upper.v, strict=True)
    )
    assert forecast.confidence_interval == 0.9
    assert forecast.training_points == N
    assert forecast.step_ms == STEP.total_seconds() * 1000

    model = await analytics.train("user_growth", method="theta", horizon="20m", window="1d")
    assert (model.kind, model.method) == (ModelKind.FORECAST, "theta")
    assert [m.id for m in await analytics.models()] == [model.id]
    assert await acme.anomalies.models() == []
    assert await analytics.delete_model(model.id) is True
