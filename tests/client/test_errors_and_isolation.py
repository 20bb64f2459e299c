"""Errors raise typed exceptions carrying the gateway's code; tenants stay apart."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from analytics_gateway_client import (
    AnalyticsClient,
    BadUserInput,
    ClientError,
    Forbidden,
    GatewayError,
    NotFound,
    TransportError,
    Unauthenticated,
)

from tests.client.conftest import MakeClient
from tests.client.helpers import first_message
from tests.servers import free_port


async def test_a_bad_condition_raises_bad_user_input_with_its_code(acme: AnalyticsClient) -> None:
    with pytest.raises(BadUserInput) as raised:
        await acme.alerts.create_alert(name="broken", condition="error_rate >")
    error = raised.value
    assert isinstance(error, GatewayError)
    assert isinstance(error, ClientError)
    assert error.code == "BAD_USER_INPUT"
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert "column" in error.message
    assert error.path == ["createAlert"]
    assert str(error).startswith("BAD_USER_INPUT: ")


async def test_codes_of_missing_things_scopes_and_keys(
    url: str, acme: AnalyticsClient, make_client: MakeClient
) -> None:
    with pytest.raises(NotFound) as missing:
        await acme.dashboards.get("no-such-dashboard")
    assert missing.value.code == "NOT_FOUND"

    async with await make_client("acme", "read") as reader:
        with pytest.raises(Forbidden) as forbidden:
            await reader.metrics.collect_business_metrics(revenue=1.0)
    assert forbidden.value.code == "FORBIDDEN"

    async with AnalyticsClient(url, api_key="agk_not-a-key") as stranger:
        with pytest.raises(Unauthenticated) as refused:
            await stranger.metrics.names()
    assert (refused.value.code, refused.value.status) == ("UNAUTHENTICATED", 401)

    async with AnalyticsClient(f"http://127.0.0.1:{free_port()}", api_key="agk_x") as nowhere:
        with pytest.raises(TransportError):
            await nowhere.metrics.names()


async def test_a_key_of_tenant_b_does_not_see_tenant_a(
    acme: AnalyticsClient, make_client: MakeClient
) -> None:
    await acme.metrics.collect_system_metrics({"cpu_usage": 55.0}, labels={"host": "web-1"})
    await acme.metrics.collect_app_metrics(event_type="song_play", user_id="u-1")
    await acme.metrics.collect_business_metrics(revenue=100.0)
    board = await acme.dashboards.create_realtime_dashboard(["revenue"])
    alert = await acme.alerts.create_alert(name="acme only", condition="cpu_usage > 90")

    async with await make_client("globex") as globex:
        assert (await globex.viewer()).tenant == "globex"
        assert await globex.metrics.names() == []
        assert await globex.metrics.query("cpu_usage", last="1h") == []
        assert (await globex.metrics.events(last="1h")).edges == []
        assert await globex.alerts.alerts() == []
        assert await globex.dashboards.dashboards() == []
        with pytest.raises(NotFound):
            await globex.dashboards.get(board.id)
        with pytest.raises(NotFound):
            await globex.alerts.get(alert.id)
        assert await globex.anomalies.detect(["cpu_usage"], "1h") == []
        with pytest.raises(Forbidden):  # the brief's tenant_id is checked against the key
            await globex.anomalies.detect(["cpu_usage"], "1h", tenant_id="acme")

        # live: globex's subscription gets nothing of acme's points, acme's gets them
        async with (
            globex.metrics.live_points("cpu_usage") as theirs,
            acme.metrics.live_points("cpu_usage") as ours,
        ):
            leaked = asyncio.ensure_future(anext(theirs))
            point = await first_message(
                ours, lambda: acme.metrics.collect_system_metrics({"cpu_usage": 66.0})
            )
            assert point.value == 66.0
            await asyncio.sleep(0.5)
            assert not leaked.done()
            leaked.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leaked
