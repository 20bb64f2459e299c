"""Sensitive event metadata keys: sealed at ingest in every store, opened for their tenant.

Run embedded and with `--backends production` (osmem-server as Elasticsearch,
Redis for config and the live history): the raw stores are read past the
gateway (the events store's own query over stored rows, the Elasticsearch
indices through the client, the broker's history) and must not hold a
sensitive value in plaintext.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.backends.elasticsearch_client import build_client, index_prefix
from analytics_gateway.domain import EventQuery
from analytics_gateway.ingest import event_id
from analytics_gateway.privacy.sensitive import MAX_KEYS
from analytics_gateway.services import Services
from analytics_gateway.subscriptions.channels import events_channel
from analytics_gateway.subscriptions.cursors import parse_cursor
from tests.conftest import MakeKey, make_settings, open_ws, post_json, serving, started

RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
EVENTS = '{ events(filter: {type: "signup"}, first: 100) { nodes { id userId metadata } } }'
SET = "mutation($keys: [String!]!) { setSensitiveKeys(keys: $keys) }"
LIVE = """subscription($since: String) { liveEvents(since: $since) { metadata cursor } }"""
COUNTS = '{ eventCounts(type: "signup", last: "1d", step: "1d", groupBy: "%s") { labels } }'
CREATE = """mutation($c: [WidgetInput!]!) { createCustomDashboard(name: "s", components: $c)
  { id } }"""
PANELS = "query($id: ID!) { dashboard(id: $id) { widgets { data { __typename } } } }"
BEFORE, ALICE, BOB = "before@example.com", "alice@example.com", "bob@example.com"


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def signup(email: str, plan: str, at_ms: int) -> dict[str, Any]:
    return {
        "type": "signup",
        "userId": email.split("@")[0],
        "timestamp": iso(at_ms),
        "metadata": {"email": email, "plan": plan},
    }


async def gql(base: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    return await post_json(base, key, "/graphql", {"query": query, "variables": variables or {}})


async def data(base: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql(base, key, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def record(base: str, key: str, events: list[dict[str, Any]]) -> None:
    result = await data(base, key, RECORD, {"events": events})
    assert result["recordEvents"] == {"accepted": len(events), "rejected": []}


async def metadata_of(base: str, key: str) -> list[dict[str, Any]]:
    found = await data(base, key, EVENTS)
    return sorted((n["metadata"] for n in found["events"]["nodes"]), key=lambda m: m["email"])


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


async def raw_events(services: Services, tenant: str) -> bytes:
    """The tenant's events as stored: the Elasticsearch documents whole (read with the
    client, `dims` included), or the embedded store's rows."""
    url = services.settings.resolved_events_url
    if not url.startswith("elasticsearch"):
        stored = await services.backends.events.query_events(
            EventQuery(tenant, None, None, None, None, 1000)
        )
        return orjson.dumps([(e.event_id, e.user_id, dict(e.metadata)) for e in stored])
    client = build_client(url, timeout_seconds=5)
    try:
        found = await client.search(
            index=f"{index_prefix(url)}-events-*",
            query={"term": {"tenant": tenant}},
            size=1000,
        )
    finally:
        await client.close()
    hits = found["hits"]["hits"]
    assert hits
    return orjson.dumps([hit["_source"] for hit in hits])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Starlette, str]]:
    settings = make_settings(tmp_path / "data", retention_interval_seconds=0.0)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as address,
    ):
        yield app, address


async def test_sensitive_values_are_sealed_everywhere_and_opened_for_their_tenant_only(
    served: tuple[Starlette, str], make_key: MakeKey
) -> None:
    app, base = served
    services = services_of(app)
    admin = await make_key("acme", "ingest,read,write,admin")
    writer = await make_key("acme", "ingest,read,write")
    other = await make_key("globex", "ingest,read,write,admin")
    now = int(time.time() * 1000) - 60_000

    ws = await open_ws(base, admin)
    await ws.subscribe(LIVE)
    await record(base, admin, [signup(BEFORE, "free", now - 1000)])
    mark = (await ws.next_data())["payload"]["data"]["liveEvents"]["cursor"]

    # only an admin marks keys; bad names and too many are refused, naming the field
    refused = await gql(base, writer, SET, {"keys": ["email"]})
    assert error_of(refused)["code"] == "FORBIDDEN"
    for bad in (["bad key"], [""], [f"k{i}" for i in range(MAX_KEYS + 1)]):
        body = await gql(base, admin, SET, {"keys": bad})
        assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "keys"}, bad
    assert (await data(base, admin, SET, {"keys": ["email", "email"]}))["setSensitiveKeys"] == [
        "email"
    ]
    assert (await data(base, admin, "{ sensitiveKeys }"))["sensitiveKeys"] == ["email"]
    assert (await data(base, other, "{ sensitiveKeys }"))["sensitiveKeys"] == []

    body = [signup(ALICE, "pro", now), signup(BOB, "free", now + 1)]
    await record(base, admin, body)
    await record(base, admin, body)  # a retry: the same events, stored once
    await record(base, other, [signup(ALICE, "team", now)])

    # live subscribers of the tenant see plaintext
    live = [(await ws.next_data())["payload"]["data"]["liveEvents"] for _ in range(2)]
    assert [m["metadata"] for m in live] == [
        {"email": ALICE, "plan": "pro"},
        {"email": BOB, "plan": "free"},
    ]
    await ws.close()

    # the owner reads plaintext; earlier events stay as they were
    assert await metadata_of(base, admin) == [
        {"email": ALICE, "plan": "pro"},
        {"email": BEFORE, "plan": "free"},
        {"email": BOB, "plan": "free"},
    ]
    # another tenant sees only its own events (its email key is not sensitive)
    assert await metadata_of(base, other) == [{"email": ALICE, "plan": "team"}]

    # at rest: no sensitive plaintext, plain keys plain, earlier events untouched
    stored = await raw_events(services, "acme")
    assert ALICE.encode() not in stored
    assert BOB.encode() not in stored
    assert b"$sealed" in stored
    assert b'"pro"' in stored
    assert BEFORE.encode() in stored
    assert ALICE.encode() in await raw_events(services, "globex")
    # ... nor in the live history kept for replay
    (ms, seq), _ = parse_cursor(mark)
    history = await services.backends.broker.history(events_channel("acme"), f"{ms}-{seq}")
    assert history
    assert all(ALICE.encode() not in raw for _, raw in history)
    assert any(b"$sealed" in raw for _, raw in history)
    # ... and a replay from that history opens them again
    back = await open_ws(base, admin)
    await back.subscribe(LIVE, {"since": mark})
    replayed = (await back.next_data())["payload"]["data"]["liveEvents"]
    assert replayed["metadata"] == {"email": ALICE, "plan": "pro"}
    await back.close()

    # ids: the retry named the same events, and no id is the plain hash of its content
    nodes = (await data(base, admin, EVENTS))["events"]["nodes"]
    assert len(nodes) == 3
    assert len({n["id"] for n in nodes}) == 3
    alice = next(n for n in nodes if n["metadata"]["email"] == ALICE)
    guessed = orjson.dumps({"email": ALICE, "plan": "pro"})
    assert alice["id"] != event_id("acme", "signup", alice["userId"], now, guessed)

    # a sealed value does not open for another tenant: null, never an error
    [sealed] = await services.backends.events.query_events(
        EventQuery("acme", "signup", "alice", None, None, 10)
    )
    opened, failed = services.privacy.sensitive.open("globex", sealed.metadata)
    assert opened == {"email": None, "plan": "pro"}
    assert failed == 1

    # grouping by a sensitive key is refused; by a plain one it works
    grouped = await gql(base, admin, COUNTS % "email")
    assert error_of(grouped) == {"code": "BAD_USER_INPUT", "field": "groupBy"}
    by_plan = (await data(base, admin, COUNTS % "plan"))["eventCounts"]
    assert sorted(s["labels"]["plan"] for s in by_plan) == ["free", "pro"]
    assert (await data(base, other, COUNTS % "email"))["eventCounts"]
    # ... in dashboard event panels too (the panel errs, the others answer)
    panels = [
        {"type": "CHART", "events": {"type": "signup", "groupBy": "email"}},
        {"type": "CHART", "events": {"type": "signup", "groupBy": "plan"}},
    ]
    made = (await data(base, admin, CREATE, {"c": panels}))["createCustomDashboard"]
    shown = await gql(base, admin, PANELS, {"id": made["id"]})
    assert error_of(shown) == {"code": "BAD_USER_INPUT", "field": "groupBy"}
    widgets = shown["data"]["dashboard"]["widgets"]
    assert [w["data"] and w["data"]["__typename"] for w in widgets] == [None, "ChartData"]

    # the audit trail records the change
    trail = await data(base, admin, "{ auditLog(first: 100) { nodes { action } } }")
    assert "setSensitiveKeys" in {e["action"] for e in trail["auditLog"]["nodes"]}

    # unmarking: new events are stored plain again, sealed ones still open
    assert (await data(base, admin, SET, {"keys": []}))["setSensitiveKeys"] == []
    await record(base, admin, [signup("carol@example.com", "pro", now + 2)])
    assert b"carol@example.com" in await raw_events(services, "acme")
    emails = [m["email"] for m in await metadata_of(base, admin)]
    assert emails == [ALICE, BEFORE, BOB, "carol@example.com"]
