"""Subscriptions as async iterators, over the gateway's graphql-transport-ws."""

from __future__ import annotations

import asyncio

import pytest
from analytics_gateway_client import AnalyticsClient, NotFound, Unauthenticated

from tests.client.helpers import first_message


async def test_a_live_point_arrives_after_an_ingest(acme: AnalyticsClient) -> None:
    collector = acme.metrics
    async with collector.live_points("cpu_usage", {"host": "web-1"}) as points:
        point = await first_message(
            points,
            lambda: collector.collect_system_metrics({"cpu_usage": 93.5}, labels={"host": "web-1"}),
        )
    assert (point.name, point.labels, point.value) == ("cpu_usage", {"host": "web-1"}, 93.5)
    assert point.cursor

    # resuming after that point replays what came after it (the last write among
    # them), then goes on live
    await collector.collect_system_metrics({"cpu_usage": 12.0}, labels={"host": "web-1"})
    async with collector.live_points("cpu_usage", {"host": "web-1"}, since=point.cursor) as again:
        async with asyncio.timeout(10):
            replayed = [await anext(again)]
            while replayed[-1].value != 12.0:
                replayed.append(await anext(again))
    assert {p.value for p in replayed[:-1]} <= {93.5}  # writes racing the first subscribe


async def test_live_events_and_dashboard_updates(acme: AnalyticsClient) -> None:
    collector = acme.metrics
    async with collector.live_events("song_play") as events:
        event = await first_message(
            events,
            lambda: collector.collect_app_metrics(
                event_type="song_play", user_id="u-7", song_id="s"
            ),
        )
    assert (event.type_, event.user_id, event.metadata) == ("song_play", "u-7", {"song_id": "s"})

    board = await acme.dashboards.create_custom_dashboard(
        "Live", [{"type": "kpi", "id": "revenue", "metric": "revenue", "aggregation": "sum"}]
    )
    async with acme.dashboards.updates(board.id) as updates:
        update = await first_message(
            updates, lambda: collector.collect_business_metrics(revenue=12.5)
        )
    assert update.dashboard_id == board.id
    [widget] = update.widgets
    assert widget.widget_id == "revenue"
    assert widget.data is not None
    assert widget.data.typename__ == "KpiData"
    assert widget.data.value is not None
    assert widget.data.value >= 12.5


async def test_subscription_errors_are_typed(acme: AnalyticsClient, url: str) -> None:
    with pytest.raises(NotFound) as missing:
        async for _ in acme.dashboards.updates("no-such-dashboard"):
            pass
    assert missing.value.code == "NOT_FOUND"

    async with AnalyticsClient(url, api_key="agk_not-a-key") as stranger:
        with pytest.raises(Unauthenticated) as refused:
            await anext(stranger.metrics.live_points("cpu_usage"))
    assert (refused.value.code, refused.value.close_code) == ("UNAUTHENTICATED", 4403)


async def test_a_subscription_stops_cleanly_when_left_early(acme: AnalyticsClient) -> None:
    subscription = acme.metrics.live_points("cpu_usage")
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0.3)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await subscription.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)
