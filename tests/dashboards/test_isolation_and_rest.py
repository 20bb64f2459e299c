"""Tenant isolation of dashboards, and the brief's REST routes over the same repository."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import GraphQLClient, MakeKey
from tests.dashboards.helpers import create, read, seed_business

COMPONENTS = [
    {"type": "KPI", "metric": "revenue", "aggregation": "SUM"},
    {"type": "CHART", "data": "song_plays"},
]


async def test_a_tenant_never_sees_or_changes_another_tenants_dashboards(
    gql: GraphQLClient, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    await seed_business(gql)
    board = await create(gql, "acme only", COMPONENTS)
    other = GraphQLClient(client, await make_key("globex", "ingest,read,write"))
    await seed_business(other, scale=10.0)  # same metric names, other tenant, other values

    assert (await other.execute("{ dashboards { id } }"))["data"]["dashboards"] == []
    attempts = {
        "read": ("query($id: ID!) { dashboard(id: $id) { id } }", {}),
        "update": (
            "mutation($id: ID!, $i: DashboardInput!) { updateDashboard(id: $id, version: 1, "
            "input: $i) { id } }",
            {"i": {"name": "taken over", "widgets": []}},
        ),
        "delete": ("mutation($id: ID!) { deleteDashboard(id: $id) }", {}),
    }
    for name, (query, variables) in attempts.items():
        body = await other.execute(query, {"id": board["id"], **variables})
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", name

    # the same definition in globex reads globex's data only
    theirs = await create(other, "globex copy", COMPONENTS)
    assert theirs["id"] != board["id"]
    acme_view = await read(gql, board["id"])
    globex_view = await read(other, theirs["id"])
    assert acme_view["widgets"][0]["data"]["value"] == pytest.approx(100.0)
    assert globex_view["widgets"][0]["data"]["value"] == pytest.approx(1000.0)
    listed = (await gql.execute("{ dashboards { id name version } }"))["data"]["dashboards"]
    assert listed == [{"id": board["id"], "name": "acme only", "version": 1}]


async def test_read_only_keys_cannot_change_dashboards(
    gql: GraphQLClient, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    reader = GraphQLClient(client, await make_key("acme", "read"))
    body = await reader.execute('mutation { createRealtimeDashboard(widgets: ["revenue"]) { id } }')
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_rest_routes_create_list_and_read_with_data(
    gql: GraphQLClient, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    await seed_business(gql)
    headers = {"Authorization": f"Bearer {gql.key}"}
    executive = {
        "name": "Executive Dashboard",
        "layout": "grid",
        "components": [
            {"type": "chart", "data": "daily_revenue"},
            {"type": "kpi", "metric": "active_users"},
            {"type": "heatmap", "data": "user_activity"},
        ],
    }
    created = await client.post("/analytics/dashboards", json=executive, headers=headers)
    assert created.status_code == 201, created.text
    board = created.json()
    assert board["version"] == 1
    assert [w["type"] for w in board["widgets"]] == ["chart", "kpi", "heatmap"]

    presets = await client.post(
        "/analytics/dashboards", json={"widgets": ["revenue", "alerts"]}, headers=headers
    )
    assert presets.status_code == 201, presets.text

    listed = (await client.get("/analytics/dashboards", headers=headers)).json()["dashboards"]
    assert sorted(d["name"] for d in listed) == ["Executive Dashboard", "Realtime: revenue, alerts"]

    one = await client.get(f"/analytics/dashboards/{board['id']}", headers=headers)
    assert one.status_code == 200
    chart, kpi, heatmap = (w["data"] for w in one.json()["widgets"])
    assert chart["kind"] == "chart"
    assert sum(chart["series"][0]["data"]["v"]) == pytest.approx(100.0)
    assert kpi["value"] == 109.0
    assert heatmap["rows"] == ["DE", "US"]
    bare = await client.get(f"/analytics/dashboards/{board['id']}?data=false", headers=headers)
    assert "data" not in bare.json()["widgets"][0]

    # what GET returns, posted back as it is, is a copy
    copied = await client.post("/analytics/dashboards", json=one.json(), headers=headers)
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert copy["id"] != board["id"]
    assert copy["widgets"] == board["widgets"]
    broken = {**bare.json(), "widgets": [{"type": "chart"}]}
    refused = await client.post("/analytics/dashboards", json=broken, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["field"] == "widgets"

    bad = await client.post(
        "/analytics/dashboards",
        json={"name": "x", "components": [{"type": "pie"}]},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    other = {"Authorization": f"Bearer {await make_key('globex', 'ingest,read,write')}"}
    hidden = await client.get(f"/analytics/dashboards/{board['id']}", headers=other)
    assert hidden.status_code == 404
    assert (await client.get("/analytics/dashboards", headers=other)).json()["dashboards"] == []
    assert (await client.get("/analytics/dashboards")).status_code == 401
