"""The brief's static and ML alerts through the client."""

from __future__ import annotations

from analytics_gateway_client import (
    AlertState,
    AnalyticsClient,
    ChannelKind,
    ModelKind,
    Severity,
)

from tests.client.helpers import wave, write_series

RECEIVER = "http://127.0.0.1:9/hooks"  # nothing listens: deliveries fail, creation does not


async def brief_channels(client: AnalyticsClient) -> None:
    """The channels and actions the brief's alert names (an admin's job)."""
    alerts = client.alerts
    await alerts.create_channel("slack", "slack", url=f"{RECEIVER}/slack")
    await alerts.create_channel(
        "email",
        ChannelKind.EMAIL,
        smtp_host="127.0.0.1",
        smtp_port=2525,
        sender="alerts@example.com",
        recipients=["oncall@example.com"],
    )
    await alerts.create_channel("scale_up", "webhook", url=f"{RECEIVER}/scale-up")
    await alerts.create_channel("notify_oncall", "webhook", url=f"{RECEIVER}/page")


async def test_the_brief_alert_with_its_channels_and_actions(acme: AnalyticsClient) -> None:
    await brief_channels(acme)
    assert [c.name for c in await acme.alerts.channels()] == [
        "email",
        "notify_oncall",
        "scale_up",
        "slack",
    ]

    alert = await acme.alerts.create_alert(
        name="High Error Rate",
        condition="error_rate > 0.05",
        severity="critical",
        channels=["slack", "email"],
        actions=["scale_up", "notify_oncall"],
    )
    assert (alert.name, alert.condition) == ("High Error Rate", "error_rate > 0.05")
    assert alert.severity is Severity.CRITICAL
    assert (alert.channels, alert.actions) == (["slack", "email"], ["scale_up", "notify_oncall"])
    assert alert.state in (AlertState.INACTIVE, AlertState.NODATA)
    assert alert.version == 1

    [listed] = await acme.alerts.alerts(severity="critical")
    assert listed.id == alert.id
    detail = await acme.alerts.get(alert.id)
    assert detail.for_ == "0s"
    assert isinstance(detail.history, list)
    assert await acme.alerts.delete(alert.id) is True
    assert await acme.alerts.alerts() == []


async def test_the_brief_ml_alert_names_its_model(acme: AnalyticsClient) -> None:
    await write_series(acme, "cpu_usage", wave(300), {"host": "web-1"})
    model = await acme.anomalies.train(
        "cpu_usage", labels={"host": "web-1"}, window="1d", detector="hbos", name="anomaly_detector"
    )
    assert (model.kind, model.name, model.method) == (ModelKind.ANOMALY, "anomaly_detector", "hbos")

    alert = await acme.alerts.create_ml_alert(
        name="Anomaly Detection", model="anomaly_detector", threshold=0.8, sensitivity="high"
    )
    assert alert.name == "Anomaly Detection"
    assert alert.condition == f'ml_anomaly_score{{model="{model.id}"}} >= 0.8'
    assert alert.labels == {"model": model.id, "metric": "cpu_usage"}

    by_id = await acme.alerts.create_ml_alert(
        name="CPU anomaly", model=model.id, severity=Severity.CRITICAL, for_="1m"
    )
    assert by_id.severity is Severity.CRITICAL
    assert by_id.for_ == "1m"
    assert {a.name for a in await acme.alerts.alerts()} == {"Anomaly Detection", "CPU anomaly"}
