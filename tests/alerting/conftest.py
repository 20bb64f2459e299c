"""Alerting tests: an app on an injected clock, GraphQL helpers, real receivers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.alerting.service import AlertService
from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.subscriptions.channels import alerts_channel
from tests.conftest import GraphQLClient, MakeKey, asgi_transport, make_settings, started
from tests.fixtures.alert_receivers import WEBHOOK_SECRET, HttpReceiver, SmtpReceiver

ALERT_FIELDS = """id name state version
  instances { labels state value }
  history(limit: 50) { state previousState notification { status reason silenceIds } }"""


class Clock:
    """Epoch milliseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = (int(time.time()) // 60) * 60_000

    def __call__(self) -> int:
        return self.now

    def at(self, seconds: float) -> int:
        """A moment `seconds` from now: ingest points there, then `advance`, so rules
        woken by the ingest are not due yet and the test decides when they run."""
        return self.now + int(seconds * 1000)

    def advance(self, seconds: float) -> int:
        self.now += int(seconds * 1000)
        return self.now


# The receivers these tests deliver to listen on loopback, which the egress policy
# refuses unless the operator allows it.
LOCAL_RECEIVERS = "127.0.0.1/32"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", egress_allow=LOCAL_RECEIVERS)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextlib.asynccontextmanager
async def alert_gateway(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    app = create_app(settings, registry=CollectorRegistry(), clock=clock)
    async with started(app):
        yield app


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    async with alert_gateway(settings, clock) as application:
        yield application


def alerts_of(app: Starlette) -> AlertService:
    service: AlertService = app.state.gateway.services.alerts
    return service


@contextlib.asynccontextmanager
async def client_for(app: Starlette, key: str) -> AsyncIterator[GraphQLClient]:
    transport = asgi_transport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield GraphQLClient(http, key)


@pytest.fixture
async def acme(app: Starlette, make_key: MakeKey) -> AsyncIterator[GraphQLClient]:
    async with client_for(app, await make_key("acme", "ingest,read,write,admin")) as client:
        yield client


async def data(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def errors(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert body.get("errors"), body
    return body["errors"]


CREATE_CHANNEL = "mutation($c: ChannelInput!) { createChannel(input: $c) { id name } }"
CREATE_ALERT = f"mutation($r: AlertRuleInput!) {{ createAlert(input: $r) {{ {ALERT_FIELDS} }} }}"
ALERT = f"query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} }} }}"


async def create_channel(gql: GraphQLClient, **channel: Any) -> str:
    result = await data(gql, CREATE_CHANNEL, {"c": channel})
    return str(result["createChannel"]["id"])


async def receiver_channels(
    gql: GraphQLClient, http: HttpReceiver, smtp: SmtpReceiver | None = None
) -> None:
    """hook (signed webhook), slack, notify_oncall (an action) and, with smtp, mail."""
    await create_channel(
        gql, name="hook", kind="WEBHOOK", url=http.url("/hook"), secret=WEBHOOK_SECRET
    )
    await create_channel(gql, name="slack", kind="SLACK", url=http.url("/slack"))
    await create_channel(
        gql,
        name="notify_oncall",
        kind="WEBHOOK",
        url=http.url("/hook-oncall"),
        secret=WEBHOOK_SECRET,
    )
    if smtp is not None:
        await create_channel(
            gql,
            name="mail",
            kind="EMAIL",
            smtpHost="127.0.0.1",
            smtpPort=smtp.port,
            sender="alerts@example.com",
            recipients=["oncall@example.com"],
        )


async def create_alert(gql: GraphQLClient, **rule: Any) -> dict[str, Any]:
    result = await data(gql, CREATE_ALERT, {"r": rule})
    alert: dict[str, Any] = result["createAlert"]
    return alert


async def alert(gql: GraphQLClient, alert_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await data(gql, ALERT, {"id": alert_id}))["alert"]
    return result


async def ingest(
    gql: GraphQLClient, name: str, value: float, at_ms: int, labels: dict[str, str] | None = None
) -> None:
    point: dict[str, Any] = {"name": name, "value": value, "timestamp": at_ms}
    if labels:
        point["labels"] = labels
    await ingest_many(gql, [point])


async def ingest_many(gql: GraphQLClient, points: list[dict[str, Any]]) -> None:
    """One batch through the REST ingest path (so one ingest wake-up)."""
    response = await gql.http.post(
        "/analytics/metrics", json=points, headers={"Authorization": f"Bearer {gql.key}"}
    )
    assert response.status_code == 200, response.text


async def subscribed(app: Starlette, *tenants: str) -> None:
    """Wait until each tenant's alert events have a listener (subscribing is asynchronous)."""
    hub = app.state.gateway.services.hub
    for _ in range(250):
        if all(hub._subscribers.get(alerts_channel(t)) for t in tenants):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no alert event subscription for all of {tenants}")


async def tick(app: Starlette) -> None:
    """Evaluate what is due at the clock's now, then deliver what is due."""
    alerts = alerts_of(app)
    await alerts.evaluate_now()
    await alerts.deliver_now()


def data_dir(settings: Settings) -> Path:
    return settings.data_dir


__all__ = ["LOCAL_RECEIVERS", "Clock", "alert_gateway", "make_settings"]
