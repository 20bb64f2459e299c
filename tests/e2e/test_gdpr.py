"""Personal data: `eraseUser`, pseudonymous user ids, per-tenant retention.

Run embedded and with `--backends production` (InfluxDB, osmem-server as
Elasticsearch, Redis): every entry point that reads events is checked after
an erasure, and the raw stores after pseudonymisation and retention rounds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.domain import EventQuery
from analytics_gateway.services import Services
from tests.conftest import MakeKey, make_settings, new_key, open_ws, post_json, serving, started

DAY = 86_400_000
SECRET = "a-test-secret-of-more-than-32-characters"
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
EVENTS = """query($user: String) {
  events(filter: {userId: $user}, first: 1000) { nodes { type userId metadata } }
}"""
COUNTS = (
    '{ eventCounts(type: "song_play", last: "1d", step: "1d", groupBy: "who") { labels data } }'
)
ERASE = """mutation($user: String!) {
  eraseUser(userId: $user) { userId erasedAt auditId counts { store deleted } }
}"""
LIVE = """subscription($since: String) { liveEvents(since: $since) { userId cursor } }"""
# daily buckets: 60 points a read, where raw points over 60 days cost 518,400 (one per
# 10 s of range), and the retention loop below reads until its round has run
POINTS = '{ metrics(query: {name: "cpu", last: "60d", step: "1d", aggregation: MAX}) { data } }'
AUDIT = '{ auditLog(action: "erasure") { nodes { id target } } }'
AUDIT_ALL = "{ auditLog(first: 100) { nodes { action target } } }"


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def plays(user: str, count: int, at_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "song_play",
            "userId": user,
            "timestamp": iso(at_ms + i),
            "metadata": {"who": user},
        }
        for i in range(count)
    ]


async def gql(base: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    return await post_json(base, key, "/graphql", {"query": query, "variables": variables or {}})


async def data(base: str, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql(base, key, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def record(base: str, key: str, events: list[dict[str, Any]]) -> None:
    result = await data(base, key, RECORD, {"events": events})
    assert result["recordEvents"] == {"accepted": len(events), "rejected": []}


async def users(base: str, key: str, user: str | None = None) -> list[str]:
    found = await data(base, key, EVENTS, {"user": user})
    return sorted(str(n["metadata"]["who"]) for n in found["events"]["nodes"])


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Starlette, str]]:
    settings = make_settings(tmp_path / "data", retention_interval_seconds=0.0)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as address,
    ):
        yield app, address


async def test_erase_user_leaves_no_event_of_theirs_in_any_entry_point(
    served: tuple[Starlette, str], make_key: MakeKey
) -> None:
    app, base = served
    admin = await make_key("acme", "ingest,read,write,admin")
    writer = await make_key("acme", "ingest,read,write")
    other = await make_key("globex", "ingest,read,write,admin")
    now = int(time.time() * 1000) - 60_000

    ws = await open_ws(base, admin)
    await ws.subscribe(LIVE)
    await record(base, admin, plays("alice", 3, now) + plays("bob", 2, now + 10))
    first = (await ws.next_data())["payload"]["data"]["liveEvents"]
    await ws.close()
    await record(base, other, plays("alice", 2, now))
    assert await users(base, admin) == ["alice"] * 3 + ["bob"] * 2

    refused = await gql(base, writer, ERASE, {"user": "alice"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    receipt = (await data(base, admin, ERASE, {"user": "alice"}))["eraseUser"]
    assert receipt["userId"] == "alice"
    assert isinstance(receipt["auditId"], str)  # the audit trail's `erasure` entry
    counts = {c["store"]: c["deleted"] for c in receipt["counts"]}
    events_store = "events:elasticsearch" if _production(app) else "events:duckdb"
    assert counts == {events_store: 3, "live-history": 1, "models:recommender": 0}
    # the trail records the erasure, and never the erased id itself
    trail = (await data(base, admin, AUDIT_ALL))["auditLog"]["nodes"]
    assert {e["action"] for e in trail} >= {"eraseUser", "erasure"}
    assert not [e for e in trail if "alice" in (e["target"] or "")], trail
    [erasure] = [e for e in trail if e["action"] == "erasure"]
    digest = hashlib.sha256(b"acme\nalice").hexdigest()
    assert erasure["target"] == f"sha256:{digest}"

    # pages, by user and not, and counts: bob only
    assert await users(base, admin, "alice") == []
    assert await users(base, admin) == ["bob", "bob"]
    series = (await data(base, admin, COUNTS))["eventCounts"]
    assert [(s["labels"], sum(s["data"]["v"])) for s in series] == [({"who": "bob"}, 2.0)]
    # the live history that held alice's events cannot be replayed any more
    back = await open_ws(base, admin)
    await back.subscribe(LIVE, {"since": first["cursor"]})
    message = await back.receive()
    assert message["payload"]["errors"][0]["extensions"]["code"] == "RESYNC_REQUIRED"
    await back.close()
    # the same user id in another tenant is not the caller's to erase
    assert await users(base, other, "alice") == ["alice", "alice"]
    # erasing again finds nothing
    again = (await data(base, admin, ERASE, {"user": "alice"}))["eraseUser"]
    assert {c["store"]: c["deleted"] for c in again["counts"]} == {
        events_store: 0,
        "live-history": 0,
        "models:recommender": 0,
    }


def _production(app: Starlette) -> bool:
    return services_of(app).settings.resolved_events_url.startswith("elasticsearch")


async def test_pseudonymised_ids_are_stored_hashed_and_found_by_the_original(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", pseudonymise_users=True, pseudonymise_secret=SECRET)
    admin = await new_key(settings, "acme", "ingest,read,write,admin")
    other = await new_key(settings, "globex", "ingest,read,write,admin")
    now = int(time.time() * 1000) - 60_000
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as base,
    ):
        await record(base, admin, plays("alice", 2, now) + plays("bob", 1, now))
        await record(base, other, plays("alice", 1, now))
        store = services_of(app).backends.events
        raw = await store.query_events(EventQuery("acme", None, None, None, None, 100))
        stored = {e.metadata["who"]: e.user_id for e in raw}
        assert stored["alice"] not in (None, "alice")
        assert stored["bob"] not in (None, "bob")
        assert str(stored["alice"]).startswith("p:")
        raw_other = await store.query_events(EventQuery("globex", None, None, None, None, 100))
        assert raw_other[0].user_id != stored["alice"]  # per-tenant keys

        assert await users(base, admin, "alice") == ["alice", "alice"]
        found = await data(base, admin, EVENTS, {"user": "alice"})
        assert {n["userId"] for n in found["events"]["nodes"]} == {stored["alice"]}

        receipt = (await data(base, admin, ERASE, {"user": "alice"}))["eraseUser"]
        assert [c["deleted"] for c in receipt["counts"] if c["store"].startswith("events:")] == [2]
        trail = await data(base, admin, AUDIT)
        [entry] = trail["auditLog"]["nodes"]
        assert entry["id"] == receipt["auditId"]
        assert entry["target"] == stored["alice"]  # the pseudonym, never the original id
        assert await users(base, admin) == ["bob"]
        assert await users(base, other, "alice") == ["alice"]


def test_pseudonymisation_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PSEUDONYMISE_SECRET"):
        make_settings(tmp_path / "data", pseudonymise_users=True)
    with pytest.raises(ValueError, match="PSEUDONYMISE_SECRET"):
        make_settings(tmp_path / "data", pseudonymise_users=True, pseudonymise_secret="short")


async def test_retention_rounds_delete_old_events_and_points_of_that_tenant_only(
    served: tuple[Starlette, str], make_key: MakeKey
) -> None:
    app, base = served
    admin = await make_key("acme", "ingest,read,write,admin")
    writer = await make_key("acme", "ingest,read,write")
    other = await make_key("globex", "ingest,read,write,admin")
    now = int(time.time() * 1000)
    for key in (admin, other):
        await record(base, key, plays("old", 2, now - 10 * DAY) + plays("new", 1, now - DAY))
        points = [
            {"name": "cpu", "value": 1.0, "timestamp": now - 40 * DAY},
            {"name": "cpu", "value": 2.0, "timestamp": now - DAY},
        ]
        await post_json(base, key, "/analytics/metrics", points)
        assert (await data(base, key, POINTS))["metrics"][0]["data"]["v"] == [1.0, 2.0]

    set_it = 'mutation { setRetention(events: "7d", metrics: "30d") { events metrics } }'
    refused = await gql(base, writer, set_it)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    too_short = await gql(base, admin, 'mutation { setRetention(events: "10m") { events } }')
    assert too_short["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    policy = {"events": "7d", "metrics": "30d"}
    assert (await data(base, admin, set_it))["setRetention"] == policy
    assert (await data(base, admin, "{ retention { events metrics } }"))["retention"] == policy
    assert (await data(base, other, "{ retention { events metrics } }"))["retention"] == {
        "events": None,
        "metrics": None,
    }

    retention = services_of(app).privacy.retention
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60.0
    while True:
        await retention.run_round()
        events = await users(base, admin, None)
        series = (await data(base, admin, POINTS))["metrics"]
        if events == ["new"] and series[0]["data"]["v"] == [2.0]:
            break
        assert loop.time() < deadline, (events, series)
        await asyncio.sleep(0.2)
    assert await users(base, other) == ["new", "old", "old"]
    assert (await data(base, other, POINTS))["metrics"][0]["data"]["v"] == [1.0, 2.0]
