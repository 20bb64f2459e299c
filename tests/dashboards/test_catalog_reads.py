"""`labelNames` and `eventTypes`: what the query builder's pickers offer, per tenant."""

from __future__ import annotations

import httpx

from tests.conftest import GraphQLClient, MakeKey
from tests.dashboards.helpers import seed_business

CATALOG = """{
  songs: labelNames(metric: "song_plays")
  cpu: labelNames(metric: "cpu_usage")
  revenue: labelNames(metric: "revenue")
  unknown: labelNames(metric: "never_written")
  eventTypes
}"""


async def test_label_names_and_event_types_of_the_callers_tenant(
    gql: GraphQLClient, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    await seed_business(gql)
    await gql.execute(
        """mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }""",
        {"p": [{"name": "cpu_usage", "value": 1.0, "labels": {"host": "b", "zone": "eu"}}]},
    )
    body = await gql.execute(CATALOG)
    assert "errors" not in body, body
    assert body["data"] == {
        "songs": ["country"],
        "cpu": ["host", "zone"],
        "revenue": [],
        "unknown": [],
        "eventTypes": ["song_play"],
    }

    other = GraphQLClient(client, await make_key("globex", "read"))
    theirs = await other.execute(CATALOG)
    assert theirs["data"] == {
        "songs": [], "cpu": [], "revenue": [], "unknown": [], "eventTypes": []
    }  # fmt: skip

    refused = await gql.execute('{ labelNames(metric: "no spaces") }')
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await GraphQLClient(client, None).post("{ eventTypes }")
    assert anonymous.status_code == 401
