"""Silences mute notifications but not state; ingest wakes the rules that read a metric."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette

from tests.alerting.conftest import (
    Clock,
    alert,
    alerts_of,
    create_alert,
    data,
    errors,
    ingest,
    ingest_many,
    receiver_channels,
    tick,
)
from tests.conftest import GraphQLClient
from tests.fixtures.alert_receivers import HttpReceiver

SILENCE = """mutation($s: SilenceInput!) {
  createSilence(input: $s) { id active createdBy comment matchers { label operator value } }
}"""
EXPIRE = "mutation($id: ID!) { expireSilence(id: $id) { id active } }"
SILENCES = "query($active: Boolean) { silences(active: $active) { id } }"

RULE: dict[str, Any] = {
    "name": "cpu hot",
    "condition": 'avg(cpu_usage{host=~"web-.*"}[1m]) > 90',
    "interval": "10s",
    "channels": ["hook"],
    "groupWait": "0s",
    "groupInterval": "0s",
    "labels": {"team": "web"},
}


async def test_a_silence_mutes_notifications_while_the_alert_shows_firing(
    app: Starlette, acme: GraphQLClient, clock: Clock, http_receiver: HttpReceiver
) -> None:
    await receiver_channels(acme, http_receiver)
    created = await data(
        acme,
        SILENCE,
        {
            "s": {
                "matchers": [
                    {"label": "team", "value": "web"},
                    {"label": "host", "value": "web-1", "operator": "EQUAL"},
                ],
                "duration": "1h",
                "comment": "maintenance",
            }
        },
    )
    silence = created["createSilence"]
    assert silence["active"] is True
    assert silence["matchers"][1] == {"label": "host", "operator": "EQUAL", "value": "web-1"}
    alert_id = (await create_alert(acme, **RULE))["id"]

    await ingest_many(
        acme,
        [
            {"name": "cpu_usage", "value": 99.0, "timestamp": clock.at(10), "labels": {"host": h}}
            for h in ("web-1", "web-2")
        ],
    )
    clock.advance(10)
    await tick(app)
    state = await alert(acme, alert_id)
    assert state["state"] == "FIRING"
    assert {i["labels"]["host"]: i["state"] for i in state["instances"]} == {
        "web-1": "FIRING",
        "web-2": "FIRING",
    }
    by_host = {h["notification"]["status"] for h in state["history"][:2]}
    assert by_host == {"SILENCED", "SENT"}
    [muted] = [h for h in state["history"][:2] if h["notification"]["status"] == "SILENCED"]
    assert muted["notification"]["silenceIds"] == [silence["id"]]
    [hook] = http_receiver.at("/hook")
    assert [a["labels"]["host"] for a in hook.body["alerts"]] == ["web-2"]

    await ingest(acme, "cpu_usage", 98.0, clock.at(10), {"host": "web-1"})
    clock.advance(10)
    await tick(app)
    assert len(http_receiver.at("/hook")) == 1  # still muted, still firing

    expired = await data(acme, EXPIRE, {"id": silence["id"]})
    assert expired["expireSilence"]["active"] is False
    assert (await data(acme, SILENCES, {"active": True}))["silences"] == []
    await ingest(acme, "cpu_usage", 97.0, clock.at(10), {"host": "web-1"})
    clock.advance(10)
    await tick(app)
    hooks = http_receiver.at("/hook")
    assert len(hooks) == 2  # the silence ended: web-1 is notified now
    assert sorted(a["labels"]["host"] for a in hooks[1].body["alerts"]) == ["web-1", "web-2"]


async def test_silences_need_a_selective_matcher(acme: GraphQLClient) -> None:
    [error] = await errors(
        acme,
        SILENCE,
        {"s": {"matchers": [{"label": "x", "value": ".*", "operator": "REGEX"}], "duration": "1h"}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_ingest_wakes_the_rules_that_read_the_metric(
    app: Starlette, acme: GraphQLClient, clock: Clock
) -> None:
    """The interval is an hour; a point of the metric gets the rule evaluated anyway."""
    alert_id = (await create_alert(acme, name="slow", condition="latency_ms > 100", interval="1h"))[
        "id"
    ]
    await alerts_of(app).evaluate_now()
    clock.advance(5)
    await ingest(acme, "other_metric", 500.0, clock.now)
    await ingest(acme, "latency_ms", 500.0, clock.now)
    for _ in range(200):  # the background loop evaluates it; the clock does not move
        if (await alert(acme, alert_id))["state"] == "FIRING":
            break
        await asyncio.sleep(0.02)
    assert (await alert(acme, alert_id))["state"] == "FIRING"
