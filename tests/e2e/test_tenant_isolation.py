"""Tenant isolation at every entry point: tenant B never sees or changes tenant A's data.

Both tenants store the same metric names, labels and event types with values
that tell them apart (A's are in the thousands, B's are small), so any leak
shows up as a wrong value, an extra series or an extra event. Labels and
metadata that name the other tenant (`{"tenant": "alpha"}`) check that a
tenant id in client input stays plain data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed

from analytics_gateway.app import create_app
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from tests.conftest import GraphQLClient, MakeKey, serving, until_listening
from tests.graphql_ws import GraphQLWS
from tests.servers import RedisServer

TENANT_A = "alpha"
TENANT_B = "beta"

INGEST = """
mutation($points: [MetricPointInput!]!) {
  ingestMetrics(points: $points) { accepted rejected { index message } }
}
"""
RECORD_EVENTS = """
mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}
"""
RECORD_BUSINESS = """
mutation($input: BusinessMetricsInput!) {
  recordBusinessMetrics(input: $input) { accepted rejected { index message } }
}
"""
METRICS = """
query($q: MetricQuery!) { metrics(query: $q) { name labels data } }
"""
EVENTS = """
query($filter: EventFilter!, $first: Int!, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id type userId timestamp metadata } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EVENT_COUNTS = """
query($type: String!, $groupBy: String) {
  eventCounts(type: $type, last: "1h", step: "1h", groupBy: $groupBy) { name labels data }
}
"""
# Everything a tenant can read about itself, in one request.
SNAPSHOT = """
{
  metricNames
  hosts: labelValues(metric: "cpu_usage", label: "host")
  tenants: labelValues(metric: "cpu_usage", label: "tenant")
  cpu: metrics(query: {name: "cpu_usage", last: "1h"}) { labels data }
  revenue: metrics(query: {name: "revenue", last: "1h"}) { labels data }
  secret: metrics(query: {name: "alpha_secret", last: "1h"}) { labels data }
  events(filter: {last: "1h"}, first: 1000) { edges { node { id type userId metadata } } }
  plays: eventCounts(type: "song_play", last: "1h", step: "1h") { labels data }
}
"""
METRIC_SUB = """
subscription($name: String!, $labels: JSON) {
  metricPoints(name: $name, labels: $labels) { name labels value }
}
"""
EVENT_SUB = """
subscription($type: String) { liveEvents(type: $type) { id type userId metadata } }
"""


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def minute_base() -> int:
    """A whole minute 20 minutes ago: every seeded point falls in one 1m and one 1h bucket."""
    return int(time.time() * 1000) // 60_000 * 60_000 - 20 * 60_000


def point(name: str, value: float, labels: dict[str, str], ts: int) -> dict[str, Any]:
    return {"name": name, "value": value, "labels": labels, "timestamp": iso(ts)}


def by_labels(series: list[dict[str, Any]]) -> dict[str, Any]:
    """Series keyed by their canonical label JSON, so order does not matter."""
    keyed = {json.dumps(s["labels"], sort_keys=True): s["data"] for s in series}
    assert len(keyed) == len(series), series
    return keyed


def lab(**labels: str) -> str:
    return json.dumps(labels, sort_keys=True)


async def data_of(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body
    return body["data"]


async def ingest(gql: GraphQLClient, points: list[dict[str, Any]]) -> None:
    result = (await data_of(gql, INGEST, {"points": points}))["ingestMetrics"]
    assert result == {"accepted": len(points), "rejected": []}


async def record(gql: GraphQLClient, events: list[dict[str, Any]]) -> None:
    result = (await data_of(gql, RECORD_EVENTS, {"events": events}))["recordEvents"]
    assert result == {"accepted": len(events), "rejected": []}


async def metrics(gql: GraphQLClient, **query: Any) -> dict[str, Any]:
    query.setdefault("last", "1h")
    return by_labels((await data_of(gql, METRICS, {"q": query}))["metrics"])


async def events_of(
    gql: GraphQLClient, first: int = 100, after: str | None = None, **flt: Any
) -> dict[str, Any]:
    flt.setdefault("last", "1h")
    variables = {"filter": flt, "first": first, "after": after}
    connection: dict[str, Any] = (await data_of(gql, EVENTS, variables))["events"]
    return connection


def user_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["userId"] for edge in connection["edges"]]


# -- the two tenants and their data -------------------------------------------------


@dataclass
class Tenants:
    a: GraphQLClient
    b: GraphQLClient
    key_a: str
    key_b: str
    base: int


A_USERS = ["a-1", "a-2", "a-3", "a-4", "a-5"]
A_COUNTRIES = ["DE", "DE", "DE", "US", "US"]
B_USERS = ["b-1", "b-2"]
B_COUNTRIES = ["DE", "FR"]


async def seed(a: GraphQLClient, b: GraphQLClient, base: int) -> None:
    """Same names, labels and event types in both tenants; values tell them apart."""
    await ingest(
        a,
        [
            point("cpu_usage", 1000, {"host": "web-1"}, base),
            point("cpu_usage", 1001, {"host": "web-1"}, base + 1000),
            point("cpu_usage", 1002, {"host": "web-1"}, base + 2000),
            point("cpu_usage", 2000, {"host": "web-2"}, base + 3000),
            # A's label names B's tenant: B must still not see it
            point("cpu_usage", 9000, {"host": "web-9", "tenant": TENANT_B}, base + 4000),
            point("alpha_secret", 7777, {"host": "web-1"}, base + 5000),
        ],
    )
    await ingest(
        b,
        [
            point("cpu_usage", 1, {"host": "web-1"}, base),
            point("cpu_usage", 2, {"host": "web-1"}, base + 1000),
            point("cpu_usage", 3, {"host": "web-3"}, base + 2000),
            # B's label names A's tenant: it stays a label of a B series
            point("cpu_usage", 4, {"host": "web-4", "tenant": TENANT_A}, base + 3000),
            point("beta_gauge", 5, {"host": "web-1"}, base + 4000),
        ],
    )
    await record(
        a,
        [
            {
                "type": "song_play",
                "userId": user,
                "timestamp": iso(base + 10_000 + i * 1000),
                "metadata": {"country": country, "owner": TENANT_A, "tenant": TENANT_A},
            }
            for i, (user, country) in enumerate(zip(A_USERS, A_COUNTRIES, strict=True))
        ]
        + [{"type": "alpha_signup", "userId": "a-9", "timestamp": iso(base + 20_000)}],
    )
    await record(
        b,
        [
            {
                "type": "song_play",
                "userId": user,
                "timestamp": iso(base + 1000 + i * 1000),
                "metadata": {"country": country, "owner": TENANT_B, "tenant": TENANT_A},
            }
            for i, (user, country) in enumerate(zip(B_USERS, B_COUNTRIES, strict=True))
        ],
    )


@pytest.fixture
async def tenants(client: httpx.AsyncClient, make_key: MakeKey) -> Tenants:
    key_a = await make_key(TENANT_A, "ingest,read,write")
    key_b = await make_key(TENANT_B, "ingest,read,write")
    a, b = GraphQLClient(client, key_a), GraphQLClient(client, key_b)
    base = minute_base()
    await seed(a, b, base)
    return Tenants(a, b, key_a, key_b, base)


# -- GraphQL queries ----------------------------------------------------------------


async def test_viewer_is_the_key_tenant(tenants: Tenants) -> None:
    a = (await data_of(tenants.a, "{ viewer }"))["viewer"]
    b = (await data_of(tenants.b, "{ viewer }"))["viewer"]
    assert a["tenant"] == TENANT_A
    assert b["tenant"] == TENANT_B
    assert tenants.key_b.startswith(f"agk_{b['keyId']}_")
    assert a["keyId"] != b["keyId"]


async def test_raw_metrics_only_show_own_tenant(tenants: Tenants) -> None:
    base = tenants.base
    assert await metrics(tenants.b, name="cpu_usage") == {
        lab(host="web-1"): {"t": [base, base + 1000], "v": [1.0, 2.0]},
        lab(host="web-3"): {"t": [base + 2000], "v": [3.0]},
        lab(host="web-4", tenant=TENANT_A): {"t": [base + 3000], "v": [4.0]},
    }
    assert await metrics(tenants.b, name="cpu_usage", labels={"host": "web-1"}) == {
        lab(host="web-1"): {"t": [base, base + 1000], "v": [1.0, 2.0]},
    }
    # a label only A has, a label naming B's tenant, a metric only A has: nothing
    assert await metrics(tenants.b, name="cpu_usage", labels={"host": "web-2"}) == {}
    assert await metrics(tenants.b, name="cpu_usage", labels={"tenant": TENANT_B}) == {}
    assert await metrics(tenants.b, name="alpha_secret") == {}
    # a label naming A's tenant selects B's own series, never A's data
    assert await metrics(tenants.b, name="cpu_usage", labels={"tenant": TENANT_A}) == {
        lab(host="web-4", tenant=TENANT_A): {"t": [base + 3000], "v": [4.0]},
    }
    # positive control: A reads its own points
    a = await metrics(tenants.a, name="cpu_usage")
    assert a[lab(host="web-1")]["v"] == [1000.0, 1001.0, 1002.0]
    assert set(a) == {lab(host="web-1"), lab(host="web-2"), lab(host="web-9", tenant=TENANT_B)}
    assert await metrics(tenants.a, name="cpu_usage", labels={"tenant": TENANT_B}) == {
        lab(host="web-9", tenant=TENANT_B): {"t": [base + 4000], "v": [9000.0]},
    }


async def test_aggregated_metrics_only_combine_own_tenant(tenants: Tenants) -> None:
    base = tenants.base
    agg = {"name": "cpu_usage", "step": "1m"}
    # groupBy [] merges every series of the tenant: 1 + 2 + 3 + 4
    assert await metrics(tenants.b, **agg, aggregation="SUM", groupBy=[]) == {
        lab(): {"t": [base], "v": [10.0]}
    }
    assert await metrics(tenants.b, **agg, aggregation="COUNT", groupBy=[]) == {
        lab(): {"t": [base], "v": [4.0]}
    }
    assert await metrics(tenants.b, **agg, aggregation="MAX") == {
        lab(host="web-1"): {"t": [base], "v": [2.0]},
        lab(host="web-3"): {"t": [base], "v": [3.0]},
        lab(host="web-4", tenant=TENANT_A): {"t": [base], "v": [4.0]},
    }
    assert await metrics(tenants.b, **agg, aggregation="SUM", groupBy=["host"]) == {
        lab(host="web-1"): {"t": [base], "v": [3.0]},
        lab(host="web-3"): {"t": [base], "v": [3.0]},
        lab(host="web-4"): {"t": [base], "v": [4.0]},
    }
    # grouping by a label called "tenant" groups by that label, not by the stored tenant
    assert await metrics(tenants.b, **agg, aggregation="SUM", groupBy=["tenant"]) == {
        lab(): {"t": [base], "v": [6.0]},
        lab(tenant=TENANT_A): {"t": [base], "v": [4.0]},
    }
    assert await metrics(tenants.b, **agg, aggregation="AVG", labels={"host": "web-2"}) == {}
    assert await metrics(tenants.b, name="alpha_secret", step="1m", aggregation="MAX") == {}
    # one bucket over the whole range (no step)
    [whole] = (await metrics(tenants.b, name="cpu_usage", aggregation="MAX", groupBy=[])).values()
    assert whole["v"] == [4.0]
    # positive control: A's own aggregate
    assert await metrics(tenants.a, **agg, aggregation="SUM", groupBy=[]) == {
        lab(): {"t": [base], "v": [1000.0 + 1001 + 1002 + 2000 + 9000]}
    }


async def test_metric_names_and_label_values_only_show_own_tenant(tenants: Tenants) -> None:
    query = """{
      all: metricNames
      alpha: metricNames(prefix: "alpha")
      hosts: labelValues(metric: "cpu_usage", label: "host")
      tenants: labelValues(metric: "cpu_usage", label: "tenant")
      secret: labelValues(metric: "alpha_secret", label: "host")
    }"""
    assert await data_of(tenants.b, query) == {
        "all": ["beta_gauge", "cpu_usage"],
        "alpha": [],
        "hosts": ["web-1", "web-3", "web-4"],
        "tenants": [TENANT_A],
        "secret": [],
    }
    assert await data_of(tenants.a, query) == {
        "all": ["alpha_secret", "cpu_usage"],
        "alpha": ["alpha_secret"],
        "hosts": ["web-1", "web-2", "web-9"],
        "tenants": [TENANT_B],
        "secret": ["web-1"],
    }


async def test_events_only_show_own_tenant(tenants: Tenants) -> None:
    plays = await events_of(tenants.b, type="song_play")
    assert user_ids(plays) == ["b-2", "b-1"]
    assert {e["node"]["metadata"]["owner"] for e in plays["edges"]} == {TENANT_B}
    assert plays["pageInfo"]["hasNextPage"] is False
    assert user_ids(await events_of(tenants.b)) == ["b-2", "b-1"]
    assert user_ids(await events_of(tenants.b, last=None)) == ["b-2", "b-1"]
    assert user_ids(await events_of(tenants.b, userId="a-1")) == []
    assert user_ids(await events_of(tenants.b, type="alpha_signup")) == []
    # positive control
    assert user_ids(await events_of(tenants.a, type="song_play")) == A_USERS[::-1]
    assert user_ids(await events_of(tenants.a, userId="a-1")) == ["a-1"]


async def test_event_cursor_of_tenant_a_shows_tenant_b_nothing_of_a(tenants: Tenants) -> None:
    first_page = await events_of(tenants.a, first=2, type="song_play")
    assert user_ids(first_page) == ["a-5", "a-4"]
    cursor = first_page["pageInfo"]["endCursor"]
    a_ids = {e["node"]["id"] for e in (await events_of(tenants.a, first=100))["edges"]}
    # positive control: the cursor leads A to its older events
    assert user_ids(await events_of(tenants.a, after=cursor, type="song_play")) == [
        "a-3",
        "a-2",
        "a-1",
    ]
    for flt in ({"type": "song_play"}, {}, {"last": None}):
        page = await events_of(tenants.b, after=cursor, **flt)
        # B's events are all older than A's cursor; A's are never among them
        assert user_ids(page) == ["b-2", "b-1"], flt
        assert not {e["node"]["id"] for e in page["edges"]} & a_ids
    # every single A cursor, used by B
    for edge in (await events_of(tenants.a, first=100))["edges"]:
        page = await events_of(tenants.b, after=edge["cursor"], last=None)
        assert not {e["node"]["id"] for e in page["edges"]} & a_ids


async def test_event_counts_only_count_own_tenant(tenants: Tenants) -> None:
    hour = tenants.base // 3_600_000 * 3_600_000
    counts = (await data_of(tenants.b, EVENT_COUNTS, {"type": "song_play"}))["eventCounts"]
    assert by_labels(counts) == {lab(): {"t": [hour], "v": [2.0]}}
    grouped = await data_of(tenants.b, EVENT_COUNTS, {"type": "song_play", "groupBy": "country"})
    assert by_labels(grouped["eventCounts"]) == {
        lab(country="DE"): {"t": [hour], "v": [1.0]},
        lab(country="FR"): {"t": [hour], "v": [1.0]},
    }
    # grouping by a metadata field named "tenant" groups by that field
    by_tenant = await data_of(tenants.b, EVENT_COUNTS, {"type": "song_play", "groupBy": "tenant"})
    assert by_labels(by_tenant["eventCounts"]) == {lab(tenant=TENANT_A): {"t": [hour], "v": [2.0]}}
    only_a = await data_of(tenants.b, EVENT_COUNTS, {"type": "alpha_signup"})
    assert only_a["eventCounts"] == []
    # positive control
    grouped_a = await data_of(tenants.a, EVENT_COUNTS, {"type": "song_play", "groupBy": "country"})
    assert by_labels(grouped_a["eventCounts"]) == {
        lab(country="DE"): {"t": [hour], "v": [3.0]},
        lab(country="US"): {"t": [hour], "v": [2.0]},
    }


async def test_graphql_over_get_is_tenant_scoped(tenants: Tenants) -> None:
    query = (
        '{ viewer metrics(query: {name: "cpu_usage", last: "1h", step: "1m", '
        "aggregation: SUM, groupBy: []}) { data } }"
    )
    response = await tenants.b.http.get(
        "/graphql",
        params={"query": query},
        headers={"Authorization": f"Bearer {tenants.key_b}", "accept": "text/html"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["viewer"]["tenant"] == TENANT_B
    assert data["metrics"] == [{"data": {"t": [tenants.base], "v": [10.0]}}]


async def test_tenant_in_client_input_never_switches_tenant(tenants: Tenants) -> None:
    http = tenants.b.http
    headers = {
        "Authorization": f"Bearer {tenants.key_b}",
        "X-Tenant-ID": TENANT_A,
        "X-Tenant": TENANT_A,
        "tenant": TENANT_A,
    }
    response = await http.post(
        "/graphql",
        json={
            "query": '{ viewer metricNames m: metrics(query: {name: "cpu_usage", step: "1m", '
            "aggregation: SUM, groupBy: []}) { data } }",
            "variables": {"tenant": TENANT_A},
            "extensions": {"tenant": TENANT_A},
        },
        params={"tenant": TENANT_A, "tenant_id": TENANT_A},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["viewer"]["tenant"] == TENANT_B
    assert data["metricNames"] == ["beta_gauge", "cpu_usage"]
    assert data["m"] == [{"data": {"t": [tenants.base], "v": [10.0]}}]
    # a `tenant` field in typed input is not part of the schema: refused, nothing read
    for query in (
        '{ metrics(query: {name: "cpu_usage", tenant: "alpha"}) { data } }',
        '{ events(filter: {tenant: "alpha"}) { edges { cursor } } }',
        'mutation { ingestMetrics(points: [{name: "cpu_usage", value: 1, tenant: "alpha"}]) '
        "{ accepted } }",
    ):
        body = (await tenants.b.post(query)).json()
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body


# -- GraphQL mutations --------------------------------------------------------------


async def test_mutations_of_tenant_b_land_in_b_only(tenants: Tenants) -> None:
    base = tenants.base
    await data_of(tenants.a, RECORD_BUSINESS, {"input": {"revenue": 5000, "timestamp": iso(base)}})
    before_a = await data_of(tenants.a, SNAPSHOT)
    assert before_a["revenue"] == [{"labels": {}, "data": {"t": [base], "v": [5000.0]}}]

    tenant_label = {"tenant": TENANT_A}
    await ingest(
        tenants.b,
        [
            point("cpu_usage", 11, {"host": "web-1"}, base + 30_000),
            point("cpu_usage", 12, {"host": "web-2", **tenant_label}, base + 31_000),
            point("alpha_secret", 13, {"host": "web-1"}, base + 32_000),
        ],
    )
    await record(
        tenants.b,
        [
            {
                "type": "song_play",
                "userId": "a-1",
                "timestamp": iso(base + 33_000),
                "metadata": {"country": "US", "owner": TENANT_B, **tenant_label},
            },
            {"type": "alpha_signup", "userId": "b-9", "timestamp": iso(base + 34_000)},
        ],
    )
    business = await data_of(
        tenants.b,
        RECORD_BUSINESS,
        {
            "input": {
                "revenue": 1.5,
                "activeUsers": 3,
                "extra": {"churned": 1},
                "labels": tenant_label,
                "timestamp": iso(base + 35_000),
            }
        },
    )
    assert business["recordBusinessMetrics"] == {"accepted": 3, "rejected": []}

    # A sees exactly what it saw before
    assert await data_of(tenants.a, SNAPSHOT) == before_a
    # B sees its writes, under its own tenant, with "tenant" as a plain label
    after_b = await data_of(tenants.b, SNAPSHOT)
    assert after_b["metricNames"] == [
        "active_users",
        "alpha_secret",
        "beta_gauge",
        "churned",
        "cpu_usage",
        "revenue",
    ]
    assert after_b["revenue"] == [
        {"labels": {"tenant": TENANT_A}, "data": {"t": [base + 35_000], "v": [1.5]}}
    ]
    cpu = by_labels(after_b["cpu"])
    assert cpu[lab(host="web-1")]["v"] == [1.0, 2.0, 11.0]
    assert cpu[lab(host="web-2", tenant=TENANT_A)]["v"] == [12.0]
    assert after_b["hosts"] == ["web-1", "web-2", "web-3", "web-4"]
    assert [e["node"]["userId"] for e in after_b["events"]["edges"]] == ["b-9", "a-1", "b-2", "b-1"]
    assert after_b["plays"][0]["data"]["v"] == [3.0]
    assert (await metrics(tenants.b, name="alpha_secret")) == {
        lab(host="web-1"): {"t": [base + 32_000], "v": [13.0]}
    }


# -- REST routes --------------------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_rest_read_of_another_tenant_id_is_forbidden(tenants: Tenants) -> None:
    http = tenants.a.http
    params = {"name": "cpu_usage", "last": "1h"}
    for path_tenant, key in ((TENANT_A, tenants.key_b), (TENANT_B, tenants.key_a)):
        response = await http.get(
            f"/analytics/metrics/{path_tenant}", params=params, headers=bearer(key)
        )
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "series" not in body
        assert "1000" not in response.text
    # near misses of A's id are other tenants too
    for path_tenant in ("ALPHA", "alpha ", "alpha,beta", "beta,alpha"):
        response = await http.get(
            f"/analytics/metrics/{path_tenant}", params=params, headers=bearer(tenants.key_b)
        )
        assert response.status_code == 403, (path_tenant, response.text)


async def test_rest_read_of_own_tenant_shows_no_data_of_another(tenants: Tenants) -> None:
    http = tenants.a.http
    base = tenants.base
    response = await http.get(
        f"/analytics/metrics/{TENANT_B}",
        params={"name": "cpu_usage", "last": "1h", "tenant": TENANT_A, "tenant_id": TENANT_A},
        headers=bearer(tenants.key_b),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant"] == TENANT_B
    assert by_labels(body["series"]) == {
        lab(host="web-1"): {"t": [base, base + 1000], "v": [1.0, 2.0]},
        lab(host="web-3"): {"t": [base + 2000], "v": [3.0]},
        lab(host="web-4", tenant=TENANT_A): {"t": [base + 3000], "v": [4.0]},
    }
    for params in (
        {"name": "cpu_usage", "labels": json.dumps({"host": "web-2"})},
        {"name": "cpu_usage", "labels": json.dumps({"tenant": TENANT_B})},
        {"name": "alpha_secret"},
        {"name": "alpha_secret", "step": "1m", "aggregation": "max"},
    ):
        response = await http.get(
            f"/analytics/metrics/{TENANT_B}", params=params, headers=bearer(tenants.key_b)
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"tenant": TENANT_B, "series": []}, params
    grouped = await http.get(
        f"/analytics/metrics/{TENANT_B}",
        params={"name": "cpu_usage", "step": "1m", "aggregation": "sum", "groupBy": "tenant"},
        headers=bearer(tenants.key_b),
    )
    assert by_labels(grouped.json()["series"]) == {
        lab(): {"t": [base], "v": [6.0]},
        lab(tenant=TENANT_A): {"t": [base], "v": [4.0]},
    }
    # positive control
    own_a = await http.get(
        f"/analytics/metrics/{TENANT_A}",
        params={"name": "alpha_secret", "last": "1h"},
        headers=bearer(tenants.key_a),
    )
    assert own_a.json()["series"][0]["data"]["v"] == [7777.0]


async def test_rest_aggregated_is_tenant_scoped(tenants: Tenants) -> None:
    http = tenants.a.http
    base = tenants.base
    params = {"name": "cpu_usage", "aggregation": "sum", "step": "1m", "groupBy": ""}
    tricks = {"tenant": TENANT_A, "tenant_id": TENANT_A}
    response = await http.get(
        "/analytics/metrics/aggregated", params={**params, **tricks}, headers=bearer(tenants.key_b)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tenant": TENANT_B,
        "series": [{"name": "cpu_usage", "labels": {}, "data": {"t": [base], "v": [10.0]}}],
    }
    by_host = await http.get(
        "/analytics/metrics/aggregated",
        params={"name": "cpu_usage", "aggregation": "count", "step": "1m", "groupBy": "host"},
        headers=bearer(tenants.key_b),
    )
    assert by_labels(by_host.json()["series"]) == {
        lab(host="web-1"): {"t": [base], "v": [2.0]},
        lab(host="web-3"): {"t": [base], "v": [1.0]},
        lab(host="web-4"): {"t": [base], "v": [1.0]},
    }
    secret = await http.get(
        "/analytics/metrics/aggregated",
        params={"name": "alpha_secret", "last": "1h"},
        headers=bearer(tenants.key_b),
    )
    assert secret.json() == {"tenant": TENANT_B, "series": []}
    # positive control
    own_a = await http.get(
        "/analytics/metrics/aggregated", params=params, headers=bearer(tenants.key_a)
    )
    assert own_a.json()["series"][0]["data"]["v"] == [1000.0 + 1001 + 1002 + 2000 + 9000]


async def test_rest_writes_of_tenant_b_land_in_b_only(tenants: Tenants) -> None:
    http = tenants.a.http
    base = tenants.base
    before_a = await data_of(tenants.a, SNAPSHOT)
    s = base // 1000  # line protocol timestamps in seconds

    # JSON array, with tenant fields and labels naming A
    response = await http.post(
        "/analytics/metrics",
        params={"tenant": TENANT_A},
        json=[
            {
                "name": "cpu_usage",
                "value": 21,
                "labels": {"host": "web-1", "tenant": TENANT_A},
                "timestamp": iso(base + 40_000),
                "tenant": TENANT_A,
            }
        ],
        headers={**bearer(tenants.key_b), "X-Tenant-ID": TENANT_A},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "rejected": []}
    # NDJSON
    response = await http.post(
        "/analytics/metrics",
        content=json.dumps({"name": "cpu_usage", "value": 22, "labels": {"host": "web-2"}}),
        headers={**bearer(tenants.key_b), "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    # InfluxDB v1: key in ?p=, database named after A
    response = await http.post(
        "/write",
        params={"db": TENANT_A, "u": TENANT_A, "p": tenants.key_b, "precision": "s"},
        content=f"cpu_usage,host=web-1,tenant={TENANT_A} value=23 {s + 41}\n",
    )
    assert response.status_code == 204, response.text
    # InfluxDB v2: Token scheme, org and bucket named after A
    response = await http.post(
        "/api/v2/write",
        params={"org": TENANT_A, "bucket": TENANT_A, "precision": "s"},
        content=f"cpu_usage,host=web-1 value=24 {s + 42}\nalpha_secret,host=web-1 value=25 {s}",
        headers={"Authorization": f"Token {tenants.key_b}"},
    )
    assert response.status_code == 204, response.text

    assert await data_of(tenants.a, SNAPSHOT) == before_a
    cpu = await metrics(tenants.b, name="cpu_usage")
    assert cpu[lab(host="web-1")] == {
        "t": [base, base + 1000, base + 42_000],
        "v": [1.0, 2.0, 24.0],
    }
    assert cpu[lab(host="web-1", tenant=TENANT_A)] == {
        "t": [base + 40_000, base + 41_000],
        "v": [21.0, 23.0],
    }
    assert cpu[lab(host="web-2")]["v"] == [22.0]
    assert await metrics(tenants.b, name="alpha_secret") == {
        lab(host="web-1"): {"t": [base], "v": [25.0]}
    }


async def test_revoked_key_stops_working_at_once_on_http(
    tenants: Tenants, make_key: MakeKey, settings: Settings
) -> None:
    http = tenants.a.http
    key = await make_key(TENANT_B, "ingest,read,write")
    store = build_config_store(settings)
    [key_id] = [
        r.key_id for r in await store.list_keys(TENANT_B) if key.startswith(f"agk_{r.key_id}_")
    ]

    async def calls() -> list[httpx.Response]:
        return [
            await http.post("/graphql", json={"query": "{ viewer }"}, headers=bearer(key)),
            await http.get("/graphql", params={"query": "{ metricNames }"}, headers=bearer(key)),
            await http.get(
                f"/analytics/metrics/{TENANT_B}", params={"name": "cpu_usage"}, headers=bearer(key)
            ),
            await http.get(
                "/analytics/metrics/aggregated", params={"name": "cpu_usage"}, headers=bearer(key)
            ),
            await http.post(
                "/analytics/metrics",
                json=[{"name": "revoked_probe", "value": 1}],
                headers=bearer(key),
            ),
            await http.post("/write", params={"p": key}, content="revoked_probe value=2"),
            await http.post(
                "/api/v2/write",
                content="revoked_probe value=3",
                headers={"Authorization": f"Token {key}"},
            ),
        ]

    assert [r.status_code for r in await calls()] == [200, 200, 200, 200, 200, 204, 204]
    assert await store.revoke_key(key_id) is True
    await store.close()
    after = await calls()
    assert [r.status_code for r in after] == [401] * len(after)
    for response in after:
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # nothing more was stored by the revoked key; the tenant's other key still works
    probe = await metrics(tenants.b, name="revoked_probe")
    assert sorted(v for d in probe.values() for v in d["v"]) == [1.0, 2.0, 3.0]
    assert (await data_of(tenants.b, "{ viewer }"))["viewer"]["tenant"] == TENANT_B
    assert (await data_of(tenants.a, "{ viewer }"))["viewer"]["tenant"] == TENANT_A


# -- subscriptions over a real WebSocket --------------------------------------------


@dataclass
class Live:
    host: str
    http: httpx.AsyncClient
    app: Starlette

    async def until_listening(self, count: int, deadline_s: float = 60.0) -> None:
        """Wait until `count` subscriptions are registered with the hub: a subscribe is
        answered by nothing, and a point published before it is registered is not its."""
        await until_listening(self.app.state.gateway.services.hub, count, deadline_s)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}/graphql"


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    async with live_server(settings) as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def live_broker(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Live]:
    """A live gateway on the in-process broker, then on Redis pub/sub."""
    if request.param == "redis":
        redis: RedisServer = request.getfixturevalue("redis")
        settings = dataclasses.replace(settings, broker_url=redis.url)
    async with live_server(settings) as server:
        yield server


@contextlib.asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[Live]:
    app = create_app(settings, registry=CollectorRegistry())
    async with serving(app) as host, httpx.AsyncClient(base_url=f"http://{host}") as http:
        yield Live(host, http, app)


async def connect(live: Live, key: str, expected: str, /, **extra: Any) -> GraphQLWS:
    """A connection acknowledged for tenant `expected`; `extra` goes into connection_init."""
    ws = await GraphQLWS.open(live.ws_url, {"Authorization": f"Bearer {key}", **extra})
    assert (await ws.ack())["payload"] == {"tenant": expected}
    return ws


async def next_item(ws: GraphQLWS, op_id: str, field: str) -> dict[str, Any]:
    message = await ws.next_data()
    assert message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    item: dict[str, Any] = message["payload"]["data"][field]
    return item


async def assert_silent(ws: GraphQLWS, seconds: float = 0.3) -> None:
    """Nothing (more) arrives on this connection."""
    try:
        message = await ws.receive(seconds)
    except TimeoutError:
        return
    pytest.fail(f"unexpected message {message}")


@contextlib.asynccontextmanager
async def closing(*connections: GraphQLWS) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for ws in connections:
            await ws.close()


async def test_metric_points_subscription_is_tenant_scoped(
    live_broker: Live, make_key: MakeKey
) -> None:
    live = live_broker
    key_a, key_b = await make_key(TENANT_A), await make_key(TENANT_B)
    gql_a, gql_b = GraphQLClient(live.http, key_a), GraphQLClient(live.http, key_b)
    base = minute_base()
    ours, theirs = {"tenant": TENANT_B}, {"tenant": TENANT_A}

    ws_a = await connect(live, key_a, TENANT_A)
    # B's connection_init also claims A's tenant: it stays B
    ws_b = await connect(live, key_b, TENANT_B, **theirs)
    ws_b_ours = await connect(live, key_b, TENANT_B)
    ws_b_theirs = await connect(live, key_b, TENANT_B, tenantId=TENANT_A)
    async with closing(ws_a, ws_b, ws_b_ours, ws_b_theirs):
        op_a = await ws_a.subscribe(METRIC_SUB, {"name": "cpu_usage"})
        op_b = await ws_b.subscribe(METRIC_SUB, {"name": "cpu_usage"})
        # label filters naming either tenant only filter B's own points
        op_bo = await ws_b_ours.subscribe(METRIC_SUB, {"name": "cpu_usage", "labels": ours})
        op_bt = await ws_b_theirs.subscribe(METRIC_SUB, {"name": "cpu_usage", "labels": theirs})
        await live.until_listening(4)

        # warm-up: every subscriber gets its own tenant's point, so all of them are live
        await ingest(gql_a, [point("cpu_usage", -1, {"host": "warmup", **ours}, base)])
        assert (await next_item(ws_a, op_a, "metricPoints"))["value"] == -1
        await ingest(
            gql_b,
            [
                point("cpu_usage", -2, {"host": "warmup", **ours}, base),
                point("cpu_usage", -3, {"host": "warmup", **theirs}, base),
            ],
        )
        assert (await next_item(ws_b, op_b, "metricPoints"))["value"] == -2
        assert (await next_item(ws_b, op_b, "metricPoints"))["value"] == -3
        assert (await next_item(ws_b_ours, op_bo, "metricPoints"))["value"] == -2
        assert (await next_item(ws_b_theirs, op_bt, "metricPoints"))["value"] == -3

        # A ingests on the same name and labels, with labels naming either tenant
        await ingest(
            gql_a,
            [
                point("cpu_usage", 1000, {"host": "web-1"}, base + 1000),
                point("cpu_usage", 1001, {"host": "web-1", **ours}, base + 2000),
                point("cpu_usage", 1002, {"host": "web-1", **theirs}, base + 3000),
            ],
        )
        # then B: each B subscriber's next message is B's point, never A's
        await ingest(
            gql_b,
            [
                point("cpu_usage", 7, {"host": "web-1", **ours}, base),
                point("cpu_usage", 8, {"host": "web-1", **theirs}, base),
            ],
        )
        assert await next_item(ws_b, op_b, "metricPoints") == {
            "name": "cpu_usage",
            "labels": {"host": "web-1", "tenant": TENANT_B},
            "value": 7.0,
        }
        assert (await next_item(ws_b, op_b, "metricPoints"))["value"] == 8.0
        assert (await next_item(ws_b_ours, op_bo, "metricPoints"))["value"] == 7.0
        assert (await next_item(ws_b_theirs, op_bt, "metricPoints"))["value"] == 8.0
        # A's subscriber gets A's points and none of B's
        for value in (1000.0, 1001.0, 1002.0):
            assert (await next_item(ws_a, op_a, "metricPoints"))["value"] == value
        for ws in (ws_a, ws_b, ws_b_ours, ws_b_theirs):
            await assert_silent(ws)


async def test_live_events_subscription_is_tenant_scoped(
    live_broker: Live, make_key: MakeKey
) -> None:
    live = live_broker
    key_a, key_b = await make_key(TENANT_A), await make_key(TENANT_B)
    gql_a, gql_b = GraphQLClient(live.http, key_a), GraphQLClient(live.http, key_b)

    ws_a = await connect(live, key_a, TENANT_A)
    ws_b = await connect(live, key_b, TENANT_B)
    ws_b_all = await connect(live, key_b, TENANT_B, tenant=TENANT_A)
    async with closing(ws_a, ws_b, ws_b_all):
        op_a = await ws_a.subscribe(EVENT_SUB, {"type": "song_play"})
        op_b = await ws_b.subscribe(EVENT_SUB, {"type": "song_play"})
        op_b_all = await ws_b_all.subscribe(EVENT_SUB, {})
        await live.until_listening(3)

        await record(gql_a, [{"type": "song_play", "userId": "a-warm"}])
        assert (await next_item(ws_a, op_a, "liveEvents"))["userId"] == "a-warm"
        await record(gql_b, [{"type": "song_play", "userId": "b-warm"}])
        assert (await next_item(ws_b, op_b, "liveEvents"))["userId"] == "b-warm"
        assert (await next_item(ws_b_all, op_b_all, "liveEvents"))["userId"] == "b-warm"

        meta_a = {"owner": TENANT_A, "tenant": TENANT_B}
        await record(
            gql_a,
            [
                {"type": "song_play", "userId": "a-1", "metadata": meta_a},
                {"type": "alpha_signup", "userId": "a-2", "metadata": meta_a},
            ],
        )
        await record(gql_b, [{"type": "song_play", "userId": "b-1", "metadata": {"owner": "b"}}])
        b_event = await next_item(ws_b, op_b, "liveEvents")
        assert (b_event["type"], b_event["userId"], b_event["metadata"]) == (
            "song_play",
            "b-1",
            {"owner": "b"},
        )
        assert (await next_item(ws_b_all, op_b_all, "liveEvents"))["userId"] == "b-1"
        assert (await next_item(ws_a, op_a, "liveEvents"))["userId"] == "a-1"
        for ws in (ws_a, ws_b, ws_b_all):
            await assert_silent(ws)


async def ws_execute(ws: GraphQLWS, query: str, variables: dict[str, Any] | None = None) -> Any:
    """Run a query or mutation over the WebSocket: one `next`, then `complete`."""
    op_id = await ws.subscribe(query, variables)
    message = await ws.next_data()
    assert message["id"] == op_id, message
    assert "errors" not in message["payload"], message
    assert await ws.receive() == {"id": op_id, "type": "complete"}
    return message["payload"]["data"]


async def test_queries_and_mutations_over_websocket_are_tenant_scoped(
    live: Live, make_key: MakeKey
) -> None:
    key_a, key_b = await make_key(TENANT_A), await make_key(TENANT_B)
    gql_a, gql_b = GraphQLClient(live.http, key_a), GraphQLClient(live.http, key_b)
    base = minute_base()
    await seed(gql_a, gql_b, base)
    before_a = await data_of(gql_a, SNAPSHOT)
    ws_b = await connect(live, key_b, TENANT_B, tenant=TENANT_A)
    async with closing(ws_b):
        # B reads over the socket exactly what B reads over HTTP, which is none of A's
        assert await ws_execute(ws_b, SNAPSHOT) == await data_of(gql_b, SNAPSHOT)
        assert (await ws_execute(ws_b, "{ viewer }"))["viewer"]["tenant"] == TENANT_B
        merged = await ws_execute(
            ws_b,
            METRICS,
            {"q": {"name": "cpu_usage", "step": "1m", "aggregation": "SUM", "groupBy": []}},
        )
        assert merged["metrics"] == [
            {"name": "cpu_usage", "labels": {}, "data": {"t": [base], "v": [10.0]}}
        ]
        assert await ws_execute(ws_b, METRICS, {"q": {"name": "alpha_secret"}}) == {"metrics": []}
        # and writes over the socket land in B only
        result = await ws_execute(
            ws_b,
            INGEST,
            {"points": [point("cpu_usage", 31, {"host": "web-2", "tenant": TENANT_A}, base)]},
        )
        assert result["ingestMetrics"] == {"accepted": 1, "rejected": []}
        events = await ws_execute(
            ws_b, RECORD_EVENTS, {"events": [{"type": "song_play", "userId": "a-1"}]}
        )
        assert events["recordEvents"]["accepted"] == 1
    assert await data_of(gql_a, SNAPSHOT) == before_a
    cpu_b = await metrics(gql_b, name="cpu_usage")
    assert cpu_b[lab(host="web-2", tenant=TENANT_A)] == {"t": [base], "v": [31.0]}
    assert user_ids(await events_of(gql_b))[0] == "a-1"


async def drain(ws: GraphQLWS, into: list[dict[str, Any]]) -> None:
    while True:
        into.append(await ws.receive())


async def expect_rejected(live: Live, payload: dict[str, Any], gql_a: GraphQLClient) -> None:
    """connection_init with `payload` closes the socket with 4403 and no data flows."""
    ws = await GraphQLWS.open(live.ws_url, payload)
    received: list[dict[str, Any]] = []
    try:
        with contextlib.suppress(ConnectionClosed):
            await ws.subscribe(METRIC_SUB, {"name": "cpu_usage"})
            await ws.subscribe(EVENT_SUB, {})
        await ingest(gql_a, [point("cpu_usage", 1000, {"host": "web-1"}, minute_base())])
        await record(gql_a, [{"type": "song_play", "userId": "a-1"}])
        with pytest.raises(ConnectionClosed) as closed:
            await drain(ws, received)
    finally:
        await ws.close()
    assert received == []
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403, closed.value


@pytest.mark.parametrize(
    "credential",
    ["none", "tenant-claim-only", "empty-bearer", "not-a-key", "tampered", "wrong-scheme"],
)
async def test_websocket_without_valid_key_is_closed(
    live: Live, make_key: MakeKey, credential: str
) -> None:
    key_a = await make_key(TENANT_A)
    gql_a = GraphQLClient(live.http, key_a)
    payloads: dict[str, dict[str, Any]] = {
        "none": {},
        "tenant-claim-only": {"tenant": TENANT_A, "tenantId": TENANT_A},
        "empty-bearer": {"Authorization": "Bearer "},
        "not-a-key": {"Authorization": "Bearer not-a-key"},
        "tampered": {"Authorization": f"Bearer {key_a[:-1]}{'x' if key_a[-1] != 'x' else 'y'}"},
        "wrong-scheme": {"Authorization": f"Basic {key_a}"},
    }
    # positive control: A's subscriber is live and sees A's data
    ws_a = await connect(live, key_a, TENANT_A)
    async with closing(ws_a):
        op_a = await ws_a.subscribe(METRIC_SUB, {"name": "cpu_usage"})
        await ingest(gql_a, [point("cpu_usage", -1, {"host": "warmup"}, minute_base())])
        assert (await next_item(ws_a, op_a, "metricPoints"))["value"] == -1
        await expect_rejected(live, payloads[credential], gql_a)
        assert (await next_item(ws_a, op_a, "metricPoints"))["value"] == 1000


async def test_websocket_with_revoked_key_is_closed(
    live: Live, make_key: MakeKey, settings: Settings
) -> None:
    key_a = await make_key(TENANT_A)
    key_b = await make_key(TENANT_B)
    store = build_config_store(settings)
    [key_id] = [r.key_id for r in await store.list_keys(TENANT_B)]
    ws = await connect(live, key_b, TENANT_B)  # works before revocation
    await ws.close()
    assert await store.revoke_key(key_id) is True
    await store.close()
    await expect_rejected(
        live, {"Authorization": f"Bearer {key_b}"}, GraphQLClient(live.http, key_a)
    )
