"""The outbox: a receiver outage loses nothing; a restart or a replayed transition sends once."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from analytics_gateway.alerting.outbox import backoff_ms
from analytics_gateway.alerting.store import STATE
from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from tests.alerting.conftest import (
    Clock,
    alert,
    alert_gateway,
    alerts_of,
    client_for,
    create_alert,
    ingest,
    receiver_channels,
    tick,
)
from tests.conftest import GraphQLClient
from tests.fixtures.alert_receivers import HttpReceiver

RULE: dict[str, Any] = {
    "name": "errors",
    "condition": "error_rate > 0.05",
    "for": "30s",
    "interval": "10s",
    "channels": ["hook"],
    "groupWait": "0s",
}


async def test_a_receiver_that_was_down_gets_the_notification_once_back(
    app: Starlette, acme: GraphQLClient, clock: Clock, http_receiver: HttpReceiver
) -> None:
    await receiver_channels(acme, http_receiver)
    await create_alert(acme, **{**RULE, "for": "0s"})
    await http_receiver.stop()

    await ingest(acme, "error_rate", 0.5, clock.at(10))
    clock.advance(10)  # the rule's interval
    await tick(app)  # fires; the send fails
    outbox = alerts_of(app).outbox
    [entry] = await outbox.pending("acme")
    assert entry["attempts"] == 1
    assert entry["last_error"]
    assert entry["notification"]["status"] == "firing"

    clock.advance(backoff_ms(1) / 1000)
    await tick(app)  # still down: retried, backs off further
    [entry] = await outbox.pending("acme")
    assert entry["attempts"] == 2
    assert entry["next_attempt_ms"] == clock.now + backoff_ms(2)

    await http_receiver.start()
    await tick(app)  # back, but the retry is not due yet
    assert http_receiver.requests == []
    clock.advance(backoff_ms(2) / 1000)
    await tick(app)
    assert len(http_receiver.at("/hook")) == 1
    assert http_receiver.at("/hook")[0].signed
    assert await outbox.pending("acme") == []
    clock.advance(60)
    await tick(app)
    assert len(http_receiver.at("/hook")) == 1


async def _key(settings: Settings) -> str:
    _, key = await create_key(
        build_config_store(settings), "acme", parse_scopes("ingest,read,write,admin")
    )
    return key


async def test_restart_mid_pending_resumes_without_duplicates(
    settings: Settings, clock: Clock, http_receiver: HttpReceiver
) -> None:
    key = await _key(settings)
    async with alert_gateway(settings, clock) as first, client_for(first, key) as gql:
        await receiver_channels(gql, http_receiver)
        alert_id = (await create_alert(gql, **RULE))["id"]
        await ingest(gql, "error_rate", 0.3, clock.at(10))
        clock.advance(10)  # the rule's interval
        await tick(first)
        assert (await alert(gql, alert_id))["state"] == "PENDING"

    clock.advance(35)
    async with alert_gateway(settings, clock) as second, client_for(second, key) as gql:
        await ingest(gql, "error_rate", 0.4, clock.now)
        await tick(second)
        after = await alert(gql, alert_id)
        assert after["state"] == "FIRING"
        assert [h["state"] for h in after["history"]] == ["FIRING", "PENDING", "NODATA"]
        assert len(http_receiver.at("/hook")) == 1


async def test_a_transition_replayed_after_a_lost_state_write_is_not_sent_again(
    settings: Settings, clock: Clock, http_receiver: HttpReceiver
) -> None:
    """As if the process died after queuing the notification, before storing the state."""
    key = await _key(settings)
    config = build_config_store(settings)
    async with alert_gateway(settings, clock) as app, client_for(app, key) as gql:
        await receiver_channels(gql, http_receiver)
        alert_id = (await create_alert(gql, **RULE))["id"]
        await ingest(gql, "error_rate", 0.3, clock.at(10))
        clock.advance(10)  # the rule's interval
        await tick(app)
        found = await config.get_document(STATE, "acme", alert_id)
        assert found is not None
        pending_state = found[1]
        await ingest(gql, "error_rate", 0.4, clock.at(35))
        clock.advance(35)
        await tick(app)
        assert len(http_receiver.at("/hook")) == 1

    await config.put_document(STATE, "acme", alert_id, pending_state)  # the write "lost"
    clock.advance(10)
    async with alert_gateway(settings, clock) as app, client_for(app, key) as gql:
        await ingest(gql, "error_rate", 0.5, clock.now)
        await tick(app)
        replayed = await alert(gql, alert_id)
        assert replayed["state"] == "FIRING"
        assert replayed["history"][0]["notification"]["status"] == "SENT"  # same id, refused
        await tick(app)
    assert len(http_receiver.at("/hook")) == 1
