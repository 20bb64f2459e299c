"""The REST routes of engagement, retention, funnels and recommendations answer exactly as
their GraphQL fields do, on generated events; refuse bad input with the same codes;
see only the caller's tenant; and need the read scope.

Runs on the embedded stores, and on InfluxDB/Elasticsearch/Redis with
`--backends production`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics_gateway.config import Settings
from tests.conftest import GraphQLClient, MakeKey, make_settings
from tests.e2e import test_behaviour as behaviour
from tests.e2e import test_engagement as engagement
from tests.e2e import test_recommendations as recommending

Plain = dict[str, Any]

ACTIVE = """query($interval: ActivityInterval!, $type: String, $from: DateTime, $to: DateTime) {
  activeUsers(interval: $interval, eventType: $type, from: $from, to: $to) {
    interval from to buckets { start users } total
  }
}"""
STICKY = """query($type: String, $from: DateTime, $to: DateTime) {
  stickiness(eventType: $type, from: $from, to: $to) {
    from to days dailyActiveUsers averageDailyActiveUsers monthlyActiveUsers stickiness
  }
}"""
TOP = """query($type: String!, $field: String!, $by: TopItemsMeasure!, $first: Int!,
            $from: DateTime, $to: DateTime) {
  topItems(eventType: $type, field: $field, by: $by, first: $first, from: $from, to: $to)
    { value plays users }
}"""
RETENTION = """query($type: String, $cohort: CohortPeriod!, $periods: Int!,
                     $from: DateTime, $to: DateTime) {
  retentionCohorts(eventType: $type, cohort: $cohort, periods: $periods, from: $from, to: $to) {
    start size retained rates
  }
}"""
FUNNEL = """query($steps: [String!]!, $within: String!, $breakdown: String,
                  $from: DateTime, $to: DateTime) {
  funnel(steps: $steps, within: $within, breakdown: $breakdown, from: $from, to: $to) {
    steps { eventType users fromPrevious fromFirst medianSeconds }
    breakdown { value steps { eventType users fromPrevious fromFirst medianSeconds } }
  }
}"""
RECOMMEND = """query($user: String!, $first: Int!, $exclude: [RecommendationExclude!]) {
  recommendations(userId: $user, first: $first, exclude: $exclude) {
    items { itemId score } personalised modelId
  }
}"""
SIMILAR = """query($item: String!, $first: Int!) {
  similarItems(itemId: $item, first: $first) { itemId score }
}"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Requests may wait for the ML pool's first start, slow on a busy machine."""
    return make_settings(tmp_path / "data", request_timeout_seconds=120.0)


class Rest:
    """The REST routes with one key."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        given = {k: v for k, v in params.items() if v is not None}
        return await self.http.get(path, params=given, headers=self.headers)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


async def data(gql: GraphQLClient, query: str, variables: Plain) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    if field is not None:
        assert error["extensions"]["field"] == field, error
    assert "Traceback" not in response.text


async def test_engagement_retention_and_funnel_routes_answer_as_graphql(
    client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey
) -> None:
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=engagement.DAYS)
    start, end = engagement.midnight_ms(first_day), engagement.midnight_ms(today)
    played = engagement.generate(1, first_day, "u")
    await engagement.record(gql, played)
    cohort_start = behaviour.monday_weeks_ago(5)
    await engagement.record(gql, behaviour.generate(cohort_start, seed=18))
    funnel_start = end - 3 * behaviour.DAY_MS
    await engagement.record(gql, behaviour.funnel_events(funnel_start, seed=18))
    span = {"from": engagement.iso(start), "to": engagement.iso(end + behaviour.DAY_MS)}
    rest = Rest(client, gql.key)

    for interval in ("DAY", "WEEK", "MONTH"):
        for kind in (None, "song_play"):
            want = await data(gql, ACTIVE, {"interval": interval, "type": kind, **span})
            got = ok(
                await rest.get(
                    "/analytics/engagement/active-users",
                    interval=interval,
                    eventType=kind,
                    **span,
                )
            )
            assert got == want["activeUsers"], (interval, kind)
            assert got["total"] > 10
    # lower-case enum values and `last` are read as GraphQL reads them
    last = ok(await rest.get("/analytics/engagement/active-users", interval="week", last="7d"))
    assert last["interval"] == "WEEK"
    assert last["total"] > 0

    sticky = ok(await rest.get("/analytics/engagement/stickiness", eventType="song_play", **span))
    assert sticky == (await data(gql, STICKY, {"type": "song_play", **span}))["stickiness"]
    assert sticky["monthlyActiveUsers"] > 0

    for field, by in (("song_id", "PLAYS"), ("artist", "UNIQUE_USERS"), ("country", "PLAYS")):
        got = ok(
            await rest.get(
                "/analytics/engagement/top-items",
                eventType="song_play",
                field=field,
                by=by,
                first=4,
                **span,
            )
        )
        variables = {"type": "song_play", "field": field, "by": by, "first": 4, **span}
        assert got["items"] == (await data(gql, TOP, variables))["topItems"], (field, by)
        assert len(got["items"]) == 4
    # the default measure and size, as in GraphQL
    default = ok(
        await rest.get(
            "/analytics/engagement/top-items", eventType="song_play", field="song_id", **span
        )
    )
    variables = {"type": "song_play", "field": "song_id", "by": "PLAYS", "first": 10, **span}
    assert default["items"] == (await data(gql, TOP, variables))["topItems"]

    window = {
        "from": engagement.iso(cohort_start),
        "to": engagement.iso(cohort_start + 35 * behaviour.DAY_MS),
    }
    for kind, cohort, periods in ((None, "WEEK", 8), ("song_play", "DAY", 10)):
        got = ok(
            await rest.get(
                "/analytics/behaviour/retention",
                eventType=kind,
                cohort=cohort,
                periods=periods,
                **window,
            )
        )
        variables = {"type": kind, "cohort": cohort, "periods": periods, **window}
        assert got["cohorts"] == (await data(gql, RETENTION, variables))["retentionCohorts"]
        assert sum(c["size"] for c in got["cohorts"]) > 5

    funnel_window = {
        "from": engagement.iso(funnel_start - behaviour.DAY_MS),
        "to": engagement.iso(funnel_start + 3 * behaviour.DAY_MS),
    }
    for within, key in (("1h", None), ("10m", "ref"), ("1h", "plan")):
        body = {"steps": behaviour.STEPS, "within": within, "breakdown": key, **funnel_window}
        got = ok(await rest.post("/analytics/behaviour/funnel", body))
        assert got == (await data(gql, FUNNEL, body))["funnel"], (within, key)
        assert got["steps"][0]["users"] == 40

    # another tenant sees none of it through any route
    other = Rest(client, await make_key("beta", "read"))
    theirs = ok(await other.get("/analytics/engagement/active-users", interval="MONTH", **span))
    assert theirs["total"] == 0
    assert (
        ok(await other.get("/analytics/engagement/stickiness", **span))["monthlyActiveUsers"] == 0
    )
    top = await other.get(
        "/analytics/engagement/top-items", eventType="song_play", field="song_id", **span
    )
    assert ok(top)["items"] == []
    assert ok(await other.get("/analytics/behaviour/retention", **window))["cohorts"] == []
    body = {"steps": behaviour.STEPS, **funnel_window}
    assert ok(await other.post("/analytics/behaviour/funnel", body))["steps"][0]["users"] == 0


async def test_bad_input_is_refused_with_the_graphql_codes(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    rest = Rest(client, gql.key)
    active = "/analytics/engagement/active-users"
    refused(await rest.get(active), 400, "BAD_USER_INPUT", "interval")
    refused(await rest.get(active, interval="YEAR"), 400, "BAD_USER_INPUT", "interval")
    refused(await rest.get(active, interval="DAY", last="soon"), 400, "BAD_USER_INPUT", "last")
    refused(await rest.get(active, interval="DAY", to="yesterday"), 400, "BAD_USER_INPUT", "to")
    refused(
        await rest.get(active, interval="DAY", **{"from": "1990-01-01T00:00:00Z"}),
        400,
        "QUERY_TOO_COMPLEX",
        "interval",
    )
    refused(
        await rest.get(active, interval="DAY", eventType="not a type!"),
        400,
        "BAD_USER_INPUT",
        "eventType",
    )
    top = "/analytics/engagement/top-items"
    refused(await rest.get(top, field="song_id"), 400, "BAD_USER_INPUT", "eventType")
    for first in ("0", "101", "ten"):
        refused(
            await rest.get(top, eventType="song_play", field="song_id", first=first),
            400,
            "BAD_USER_INPUT",
            "first",
        )
    refused(await rest.get(top, eventType="song_play", field="a b"), 400, "BAD_USER_INPUT", "field")
    refused(
        await rest.get(top, eventType="song_play", field="song_id", by="LOUDEST"),
        400,
        "BAD_USER_INPUT",
        "by",
    )
    retention = "/analytics/behaviour/retention"
    refused(await rest.get(retention, periods="53"), 400, "BAD_USER_INPUT", "periods")
    refused(await rest.get(retention, cohort="YEAR"), 400, "BAD_USER_INPUT", "cohort")
    wide = {"from": "1990-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    refused(await rest.get(retention, cohort="DAY", **wide), 400, "QUERY_TOO_COMPLEX")
    funnel = "/analytics/behaviour/funnel"
    refused(await rest.post(funnel, {"steps": ["sign_up"]}), 400, "BAD_USER_INPUT", "steps")
    refused(await rest.post(funnel, {"steps": "sign_up"}), 400, "BAD_USER_INPUT", "steps")
    refused(
        await rest.post(funnel, {"steps": behaviour.STEPS, "within": "0s"}),
        400,
        "BAD_USER_INPUT",
        "within",
    )
    refused(await rest.post(funnel, ["sign_up", "search"]), 400, "BAD_USER_INPUT")
    recommend = "/analytics/recommendations"
    refused(await rest.get(recommend), 400, "BAD_USER_INPUT", "userId")
    refused(await rest.get(recommend, userId="a0", exclude="LIKED"), 400, "BAD_USER_INPUT")
    refused(await rest.get(recommend, userId="a0"), 404, "NOT_FOUND")  # no model yet
    similar = "/analytics/recommendations/similar"
    refused(await rest.get(similar, itemId="x", first="0"), 400, "BAD_USER_INPUT", "first")
    refused(await rest.get(similar, itemId="x" * 257), 400, "BAD_USER_INPUT", "itemId")


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/analytics/engagement/active-users", {"interval": "DAY"}),
        ("GET", "/analytics/engagement/stickiness", {}),
        ("GET", "/analytics/engagement/top-items", {"eventType": "song_play", "field": "x"}),
        ("GET", "/analytics/behaviour/retention", {}),
        ("POST", "/analytics/behaviour/funnel", {"steps": ["sign_up", "search"]}),
        ("GET", "/analytics/recommendations", {"userId": "a0"}),
        ("GET", "/analytics/recommendations/similar", {"itemId": "song-1"}),
    ],
)
async def test_every_route_needs_a_key_with_the_read_scope(
    client: httpx.AsyncClient, make_key: MakeKey, method: str, path: str, params: Plain
) -> None:
    for key, status, code in (
        (None, 401, "UNAUTHENTICATED"),
        (await make_key("acme", "ingest"), 403, "FORBIDDEN"),
    ):
        rest = Rest(client, key)
        response = await (rest.post(path, params) if method == "POST" else rest.get(path, **params))
        refused(response, status, code)


async def test_recommendation_routes_and_rest_training_answer_as_graphql(
    client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey
) -> None:
    events = recommending.plays({"a": "rock-", "b": "jazz-"}, users=10, seed=1)
    await recommending.record(gql, events)
    rest = Rest(client, gql.key)
    trained = await rest.post(
        "/analytics/ml/train", {"metric": "song_play", "kind": "RECOMMENDER", "window": "1d"}
    )
    assert trained.status_code == 201, trained.text
    model = trained.json()
    assert (model["kind"], model["method"]) == ("recommender", "ease")
    assert model["trainingPoints"] == len(events)
    listed = ok(await rest.get("/analytics/ml/models", kind="recommender"))["models"]
    assert [m["id"] for m in listed] == [model["id"]]

    for user, exclude, graphql_exclude in (
        ("b3", None, None),
        ("b3", "", []),
        ("b3", "PLAYED", ["PLAYED"]),
        ("someone-new", None, None),
    ):
        got = ok(
            await rest.get("/analytics/recommendations", userId=user, first=3, exclude=exclude)
        )
        variables = {"user": user, "first": 3, "exclude": graphql_exclude}
        assert got == (await data(gql, RECOMMEND, variables))["recommendations"], (user, exclude)
        assert got["modelId"] == model["id"]
        assert len(got["items"]) == 3
    heard = {e["metadata"]["song_id"] for e in events if e["userId"] == "b3"}
    fresh = ok(await rest.get("/analytics/recommendations", userId="b3", first=3))
    assert fresh["personalised"]
    assert all(i["itemId"].startswith("jazz-") and i["itemId"] not in heard for i in fresh["items"])

    similar = ok(await rest.get("/analytics/recommendations/similar", itemId="rock-2", first=3))
    want = await data(gql, SIMILAR, {"item": "rock-2", "first": 3})
    assert similar["items"] == want["similarItems"]
    assert similar["items"]
    assert all(i["itemId"].startswith("rock-") for i in similar["items"])

    # another tenant has no model, and never sees this one's songs
    other = Rest(client, await make_key("beta", "read"))
    refused(await other.get("/analytics/recommendations", userId="b3"), 404, "NOT_FOUND")
    refused(
        await other.get("/analytics/recommendations/similar", itemId="rock-2"), 404, "NOT_FOUND"
    )
    wrong = await rest.post("/analytics/ml/train", {"metric": "song_play", "kind": "ranker"})
    refused(wrong, 400, "BAD_USER_INPUT", "kind")
