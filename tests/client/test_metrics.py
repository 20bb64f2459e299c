"""The brief's metric collection through the client, read back through the client."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from analytics_gateway_client import Aggregation, AnalyticsClient, MetricsCollector


async def test_system_metrics_given_or_sampled_are_stored_per_host(acme: AnalyticsClient) -> None:
    collector = MetricsCollector(acme)
    given = await collector.collect_system_metrics(
        {"cpu_usage": 75.5, "memory_usage": 60.2, "disk_io": 1024, "network_traffic": 2048},
        labels={"host": "web-1"},
    )
    assert (given.accepted, given.rejected) == (4, [])
    sampled = await collector.collect_system_metrics()  # this host, read with psutil
    assert (sampled.accepted, sampled.rejected) == (5, [])

    series = {s.labels["host"]: s for s in await collector.query("cpu_usage", last="5m")}
    assert set(series) == {"web-1", socket.gethostname()}
    assert series["web-1"].data.v == [75.5]
    assert 0 <= (series[socket.gethostname()].summary.last or 0) <= 100
    assert {
        "cpu_usage", "memory_usage", "disk_usage", "disk_io", "network_traffic",
        "network_bytes_sent", "network_bytes_received",
    } <= set(await collector.names())  # fmt: skip


async def test_app_metrics_are_events_with_their_metadata(acme: AnalyticsClient) -> None:
    collector = acme.metrics
    at = datetime.now(UTC) - timedelta(minutes=1)
    as_dict = await collector.collect_app_metrics(
        {
            "tenant_id": "acme",
            "event_type": "song_play",
            "user_id": "user_456",
            "song_id": "song_789",
            "duration": 180,
            "timestamp": at.isoformat(),
        }
    )
    as_keywords = await collector.collect_app_metrics(
        event_type="subscribe", user_id="user_456", metadata={"plan": "family"}
    )
    assert as_dict.accepted == as_keywords.accepted == 1

    page = await collector.events(type="song_play", last="1h")
    [edge] = page.edges
    assert edge.node.type_ == "song_play"
    assert edge.node.user_id == "user_456"
    assert edge.node.metadata == {"song_id": "song_789", "duration": 180}
    assert abs(edge.node.timestamp - at) < timedelta(milliseconds=1)
    assert not page.page_info.has_next_page
    every = await collector.events(user_id="user_456", last="1h")
    assert [e.node.type_ for e in every.edges] == ["subscribe", "song_play"]  # newest first


async def test_business_metrics_and_extras_become_series(acme: AnalyticsClient) -> None:
    collector = acme.metrics
    result = await collector.collect_business_metrics(
        {"revenue": 1250.50, "active_users": 15000, "conversion_rate": 0.034},
        churned=3,
        labels={"region": "eu"},
    )
    assert (result.accepted, result.rejected) == (4, [])
    for name, value in [
        ("revenue", 1250.5),
        ("active_users", 15000),
        ("conversion_rate", 0.034),
        ("churned", 3),
    ]:
        [series] = await collector.query(name, last="5m", labels={"region": "eu"})
        assert series.data.v == [value], name

    [total] = await collector.query("revenue", last="1h", step="1h", aggregation="sum")
    assert total.summary.last == 1250.5
    [same] = await collector.query(
        "revenue", last="1h", step="1h", aggregation=Aggregation.SUM, group_by=[]
    )
    assert same.labels == {}


async def test_rejected_points_are_reported_by_index(acme: AnalyticsClient) -> None:
    result = await acme.metrics.ingest(
        [
            {"name": "latency_ms", "value": 12.5, "labels": {"endpoint": "/play"}},
            {"name": "latency_ms", "value": 1.0, "timestamp": "2999-01-01T00:00:00Z"},
        ]
    )
    assert result.accepted == 1
    [rejected] = result.rejected
    assert rejected.index == 1
    assert "future" in rejected.message
