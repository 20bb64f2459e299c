"""Least privilege: each mutation and write route needs exactly its scope.

Before, `write` covered ingest and also channels (which reach the network),
alerts, dashboards and models, and `admin` was never checked: a leaked
Telegraf key was enough to point a channel at the gateway's own stores.
Now `ingest` writes points and events only, `write` changes alerts, silences,
dashboards and models, `admin` (which implies every scope) manages channels.
Keys made before `ingest` existed keep ingesting through their `write`.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.base import StrawberryObjectDefinition

from analytics_gateway.config import Settings
from analytics_gateway.schema.mutation import Mutation
from tests.conftest import GraphQLClient, MakeKey

# every mutation, with a call that passes the scope check (what happens next does not matter)
MUTATIONS: dict[str, tuple[str, str]] = {
    "createRealtimeDashboard": ("write", 'createRealtimeDashboard(widgets: ["revenue"]) { id }'),
    "createCustomDashboard": (
        "write",
        'createCustomDashboard(name: "d", components: [{type: KPI, metric: "m"}]) { id }',
    ),
    "updateDashboard": (
        "write",
        'updateDashboard(id: "x", version: 1, input: {name: "d", widgets: []}) { id }',
    ),
    "deleteDashboard": ("write", 'deleteDashboard(id: "x")'),
    "createAlert": ("write", 'createAlert(input: {name: "a", condition: "m > 1"}) { id }'),
    "createMlAlert": ("write", 'createMlAlert(name: "a", model: "x") { id }'),
    "updateAlert": ("write", 'updateAlert(id: "x", input: {name: "a", condition: "m > 1"}) { id }'),
    "deleteAlert": ("write", 'deleteAlert(id: "x")'),
    "createSilence": (
        "write",
        'createSilence(input: {matchers: [{label: "a", value: "b"}], duration: "1h"}) { id }',
    ),
    "expireSilence": ("write", 'expireSilence(id: "x") { id }'),
    "createChannel": (
        "admin",
        'createChannel(input: {name: "c", kind: WEBHOOK, url: "https://hooks.example/x"}) { id }',
    ),
    "updateChannel": (
        "admin",
        'updateChannel(id: "x", input: {name: "c", kind: WEBHOOK, '
        'url: "https://hooks.example/x"}) { id }',
    ),
    "deleteChannel": ("admin", 'deleteChannel(id: "x")'),
    "testChannel": ("admin", 'testChannel(id: "x") { ok }'),
    "createApiKey": ("admin", 'createApiKey(scopes: ["read"]) { secret }'),
    "rotateApiKey": ("admin", 'rotateApiKey(id: "x") { secret }'),
    "revokeApiKey": ("admin", 'revokeApiKey(id: "x")'),
    "eraseUser": ("admin", 'eraseUser(userId: "u") { userId }'),
    "setRetention": ("admin", 'setRetention(events: "90d") { events }'),
    "setSensitiveKeys": ("admin", 'setSensitiveKeys(keys: ["email"])'),
    "trainModel": ("write", 'trainModel(input: {metric: "m"}) { id }'),
    "predict": ("read", 'predict(modelId: "x") { model { id } }'),
    "deleteModel": ("write", 'deleteModel(id: "x")'),
    "createKpi": ("write", 'createKpi(input: {name: "k", formula: "m", aggregation: SUM}) { id }'),
    "updateKpi": (
        "write",
        'updateKpi(id: "x", version: 1, input: {name: "k", formula: "m", aggregation: SUM}) { id }',
    ),
    "deleteKpi": ("write", 'deleteKpi(id: "x")'),
    "createKpiAlert": ("write", 'createKpiAlert(kpi: "x") { id }'),
    "createReport": ("write", 'createReport(input: {name: "r"}) { id }'),
    "updateReport": ("write", 'updateReport(id: "x", version: 1, input: {name: "r"}) { id }'),
    "deleteReport": ("write", 'deleteReport(id: "x")'),
    "ingestMetrics": ("ingest", 'ingestMetrics(points: [{name: "m", value: 1}]) { accepted }'),
    "recordEvents": ("ingest", 'recordEvents(events: [{type: "play"}]) { accepted }'),
    "recordBusinessMetrics": ("ingest", "recordBusinessMetrics(input: {revenue: 1}) { accepted }"),
}
# mutations of the gateway itself: only an admin key of the operator's tenant
# (ANALYTICS_SELF_TENANT), no other tenant's, whatever its scopes
OPERATOR_MUTATIONS: dict[str, str] = {
    "enableHealthAlerts": "enableHealthAlerts { id }",
    "setLogLevel": 'setLogLevel(logger: "analytics_gateway.scope_probe", level: "INFO", '
    'ttl: "1s") { level }',
    "profile": "profile(seconds: 0.05) { samples }",
}
SCOPES = ("ingest", "read", "write", "admin")


def test_every_mutation_of_the_schema_has_its_scope_here() -> None:
    definition = Mutation.__strawberry_definition__  # type: ignore[attr-defined]
    assert isinstance(definition, StrawberryObjectDefinition)
    names = {field.graphql_name or _camel(field.python_name) for field in definition.fields}
    assert names == set(MUTATIONS) | set(OPERATOR_MUTATIONS)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _error_code(client: GraphQLClient, call: str) -> str | None:
    body: dict[str, Any] = await client.execute(f"mutation {{ {call} }}")
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    return "FORBIDDEN" if "FORBIDDEN" in codes else (codes[0] if codes else None)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_each_mutation_needs_its_scope(
    mutation: str, gql: GraphQLClient, make_key: MakeKey
) -> None:
    needed, call = MUTATIONS[mutation]
    for scope in SCOPES:
        client = GraphQLClient(gql.http, await make_key("acme", scope))
        code = await _error_code(client, call)
        allowed = scope in (needed, "admin")
        assert (code != "FORBIDDEN") == allowed, (mutation, scope, code)


@pytest.mark.parametrize("mutation", sorted(OPERATOR_MUTATIONS))
async def test_each_operator_mutation_needs_an_admin_key_of_the_operators_tenant(
    mutation: str, gql: GraphQLClient, make_key: MakeKey, settings: Settings
) -> None:
    call = OPERATOR_MUTATIONS[mutation]
    for tenant in ("acme", settings.self_tenant):
        for scope in SCOPES:
            client = GraphQLClient(gql.http, await make_key(tenant, scope))
            code = await _error_code(client, call)
            allowed = tenant == settings.self_tenant and scope == "admin"
            assert (code != "FORBIDDEN") == allowed, (mutation, tenant, scope, code)


async def test_an_ingest_key_writes_points_and_events_and_nothing_else(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    agent = await make_key("acme", "ingest")
    headers = {"Authorization": f"Token {agent}"}
    written = await gql.http.post("/write", content="cpu,host=a value=1", headers=headers)
    assert written.status_code == 204, written.text
    posted = await gql.http.post(
        "/analytics/metrics", json=[{"name": "cpu", "value": 2}], headers=headers
    )
    assert posted.status_code == 200, posted.text
    for path, body in (
        ("/analytics/alerts", {"name": "a", "condition": "cpu > 1"}),
        ("/analytics/dashboards", {"name": "d", "widgets": ["revenue"]}),
        ("/analytics/ml/train", {"metric": "cpu"}),
    ):
        refused = await gql.http.post(path, json=body, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    reading = await gql.http.get("/analytics/metrics/acme?name=cpu", headers=headers)
    assert reading.status_code == 403
    # what it wrote is there for a reader
    stored = await gql.execute('{ metrics(query: {name: "cpu", last: "1h"}) { data } }')
    values = [v for series in stored["data"]["metrics"] for v in series["data"]["v"]]
    assert sorted(values) == [1.0, 2.0]


async def test_a_write_key_cannot_ingest_or_manage_channels(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    editor = {"Authorization": f"Bearer {await make_key('acme', 'write')}"}
    refused = await gql.http.post("/write", content="cpu value=1", headers=editor)
    assert refused.status_code == 403
    created = await gql.http.post(
        "/analytics/alerts", json={"name": "a", "condition": "cpu > 1"}, headers=editor
    )
    assert created.status_code == 201, created.text
