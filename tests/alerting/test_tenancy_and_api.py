"""Tenant isolation of rules, silences, channels and events; API errors; the REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from tests.alerting.conftest import (
    ALERT,
    Clock,
    alert,
    client_for,
    create_alert,
    create_channel,
    data,
    errors,
    ingest,
    subscribed,
    tick,
)
from tests.conftest import GraphQLClient, MakeKey, serving
from tests.graphql_ws import GraphQLWS

EVENTS = "subscription { alertEvents { alertName state } }"


@pytest.fixture
async def globex(app: Starlette, make_key: MakeKey) -> AsyncIterator[GraphQLClient]:
    async with client_for(app, await make_key("globex", "ingest,read,write,admin")) as client:
        yield client


async def test_tenants_see_only_their_own_alerting(
    app: Starlette, acme: GraphQLClient, globex: GraphQLClient, clock: Clock
) -> None:
    channel_id = await create_channel(acme, name="ops", kind="WEBHOOK", url="http://127.0.0.1:9/")
    rule = await create_alert(acme, name="acme errors", condition="errors > 1", channels=["ops"])
    silence = await data(
        acme,
        'mutation { createSilence(input: {matchers: [{label: "alertname", value: "x"}], '
        'duration: "1h"}) { id } }',
    )
    silence_id = silence["createSilence"]["id"]

    listing = "{ alerts { id } silences { id } channels { id } }"
    assert await data(globex, listing) == {"alerts": [], "silences": [], "channels": []}
    mine = await data(acme, listing)
    assert [a["id"] for a in mine["alerts"]] == [rule["id"]]
    assert [c["id"] for c in mine["channels"]] == [channel_id]

    [missing] = await errors(globex, ALERT, {"id": rule["id"]})
    assert missing["extensions"]["code"] == "NOT_FOUND"
    for name, target in (("deleteAlert", rule["id"]), ("deleteChannel", channel_id)):
        mutation = f"mutation($id: ID!) {{ {name}(id: $id) }}"
        assert await data(globex, mutation, {"id": target}) == {name: False}
    for mutation, variables in (
        ("mutation($id: ID!) { expireSilence(id: $id) { id } }", {"id": silence_id}),
        ("mutation($id: ID!) { testChannel(id: $id) { ok } }", {"id": channel_id}),
        (
            'mutation($id: ID!) { updateAlert(id: $id, input: {name: "x", condition: "a > 1"})'
            " { id } }",
            {"id": rule["id"]},
        ),
    ):
        [error] = await errors(globex, mutation, variables)
        assert error["extensions"]["code"] == "NOT_FOUND"
    # another tenant's channel name does not resolve
    [error] = await errors(
        globex,
        'mutation { createAlert(input: {name: "g", condition: "a > 1", channels: ["ops"]})'
        " { id } }",
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"

    # events: globex's subscriber sees globex's transitions only
    await create_alert(globex, name="globex errors", condition="errors > 1", interval="10s")
    async with serving(app, lifespan=False) as address:
        url = f"ws://{address}/graphql"
        watchers = []
        for gql in (acme, globex):
            ws = await GraphQLWS.open(url, {"Authorization": f"Bearer {gql.key}"})
            await ws.ack()
            await ws.subscribe(EVENTS)
            watchers.append(ws)
        await subscribed(app, "acme", "globex")
        await ingest(acme, "errors", 5.0, clock.at(30))
        await ingest(globex, "errors", 5.0, clock.at(30))
        clock.advance(30)
        await tick(app)
        seen: dict[int, set[str]] = {0: set(), 1: set()}
        for i, ws in enumerate(watchers):
            message = await ws.next_data()  # NODATA -> FIRING
            seen[i].add(message["payload"]["data"]["alertEvents"]["alertName"])
            with pytest.raises(TimeoutError):
                await ws.next_data(timeout=0.3)
            await ws.close()
    assert seen == {0: {"acme errors"}, 1: {"globex errors"}}
    assert (await alert(acme, rule["id"]))["state"] == "FIRING"


async def test_condition_errors_name_the_column(acme: GraphQLClient) -> None:
    [error] = await errors(
        acme,
        'mutation { createAlert(input: {name: "x", condition: "avg(cpu_usage[5m] > 90"}) { id } }',
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["column"] == 19
    assert "expected ')'" in error["message"]


async def test_update_with_a_stale_version_conflicts(acme: GraphQLClient) -> None:
    rule = await create_alert(acme, name="x", condition="a > 1")
    update = (
        "mutation($id: ID!, $v: Int) { updateAlert(id: $id, version: $v, "
        'input: {name: "x", condition: "a > 2", severity: CRITICAL}) { version condition } }'
    )
    updated = await data(acme, update, {"id": rule["id"], "v": rule["version"]})
    assert updated["updateAlert"] == {"version": 2, "condition": "a > 2"}
    [error] = await errors(acme, update, {"id": rule["id"], "v": rule["version"]})
    assert error["extensions"]["code"] == "CONFLICT"


async def test_rest_routes(acme: GraphQLClient, globex: GraphQLClient) -> None:
    http = acme.http
    auth = {"Authorization": f"Bearer {acme.key}"}
    body = {"name": "High Error Rate", "condition": "error_rate > 0.05", "severity": "critical"}
    created = await http.post("/analytics/alerts", json=body, headers=auth)
    assert created.status_code == 201, created.text
    alert_id = created.json()["id"]
    assert created.json()["severity"] == "CRITICAL"

    listed = await http.get("/analytics/alerts", headers=auth)
    assert [a["id"] for a in listed.json()["alerts"]] == [alert_id]
    other = await http.get("/analytics/alerts", headers={"Authorization": f"Bearer {globex.key}"})
    assert other.json() == {"alerts": []}

    changed = await http.put(
        f"/analytics/alerts/{alert_id}", json={**body, "for": "1m", "version": 1}, headers=auth
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["for_ms"] == 60_000
    stale = await http.put(
        f"/analytics/alerts/{alert_id}", json={**body, "version": 1}, headers=auth
    )
    assert stale.status_code == 409
    bad = await http.post("/analytics/alerts", json={**body, "condition": "x >"}, headers=auth)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["column"] == 4

    foreign = await http.delete(
        f"/analytics/alerts/{alert_id}", headers={"Authorization": f"Bearer {globex.key}"}
    )
    assert foreign.status_code == 404
    deleted = await http.delete(f"/analytics/alerts/{alert_id}", headers=auth)
    assert deleted.status_code == 204
    assert (await http.get("/analytics/alerts", headers=auth)).json() == {"alerts": []}
