"""Recommendations end to end: song_play events in, trainModel(RECOMMENDER), both fields out.

Runs on the embedded stores, and on InfluxDB/Elasticsearch/Redis with
`--backends production`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from analytics_gateway.config import Settings
from analytics_gateway.ml.recommender_service import RETRAIN_SECONDS
from tests.conftest import GraphQLClient, MakeKey, make_settings

RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
TRAIN = """mutation($input: TrainModelInput!) {
  trainModel(input: $input) { id kind metric method trainingPoints version
                              evaluation { fitSeconds } }
}"""
RECOMMEND = """query($user: String!, $first: Int!, $exclude: [RecommendationExclude!]) {
  recommendations(userId: $user, first: $first, exclude: $exclude) {
    personalised modelId items { itemId score }
  }
}"""
SIMILAR = """query($item: String!) { similarItems(itemId: $item, first: 3) { itemId score } }"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Requests may wait for the ML pool's first start, slow on a busy machine."""
    return make_settings(tmp_path / "data", request_timeout_seconds=120.0)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def plays(groups: dict[str, str], users: int, seed: int) -> list[dict[str, Any]]:
    """Each user of a group plays 5 of its group's 8 songs, about half of each song."""
    rng = random.Random(seed)
    base = int(time.time() * 1000) - 3_600_000
    events = []
    for prefix, songs in groups.items():
        for u in range(users):
            for s in rng.sample(range(8), 5):
                base += 1_000
                events.append(
                    {
                        "type": "song_play",
                        "userId": f"{prefix}{u}",
                        "timestamp": iso(base),
                        "metadata": {"song_id": f"{songs}{s}", "duration": 100, "song_length": 200},
                    }
                )
    return events


async def record(gql: GraphQLClient, events: list[dict[str, Any]]) -> None:
    result = await gql.execute(RECORD, {"events": events})
    assert result["data"]["recordEvents"] == {"accepted": len(events), "rejected": []}


async def train(gql: GraphQLClient) -> dict[str, Any]:
    result = await gql.execute(
        TRAIN, {"input": {"metric": "song_play", "kind": "RECOMMENDER", "window": "1d"}}
    )
    assert "errors" not in result, result
    model: dict[str, Any] = result["data"]["trainModel"]
    return model


async def recommend(gql: GraphQLClient, user: str, **extra: Any) -> dict[str, Any]:
    result = await gql.execute(RECOMMEND, {"user": user, "first": 3, **extra})
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["recommendations"]
    return found


async def test_recommendations_and_similar_items_through_graphql(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    missing = await gql.execute(RECOMMEND, {"user": "a0", "first": 3})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    events = plays({"a": "rock-", "b": "jazz-"}, users=10, seed=1)
    await record(gql, events)
    model = await train(gql)
    assert model["kind"] == "RECOMMENDER"
    assert model["method"] == "ease"
    assert model["trainingPoints"] == len(events)
    assert model["evaluation"]["fitSeconds"] >= 0

    played = {e["metadata"]["song_id"] for e in events if e["userId"] == "b3"}
    found = await recommend(gql, "b3")
    assert found["personalised"]
    assert found["modelId"] == model["id"]
    items = [i["itemId"] for i in found["items"]]
    assert len(items) == 3
    assert all(i.startswith("jazz-") and i not in played for i in items), items
    # exclude: [] may bring back songs already played
    again = await recommend(gql, "b3", exclude=[])
    assert {i["itemId"] for i in again["items"]} & played

    cold = await recommend(gql, "someone-new")
    assert not cold["personalised"]
    assert len(cold["items"]) == 3

    similar = (await gql.execute(SIMILAR, {"item": "rock-2"}))["data"]["similarItems"]
    assert similar
    assert all(i["itemId"].startswith("rock-") for i in similar)
    unknown = await gql.execute(SIMILAR, {"item": "nope"})
    assert unknown["data"]["similarItems"] == []

    # tenant isolation: another tenant's model never knows this tenant's songs
    other = GraphQLClient(gql.http, await make_key("beta"))
    await record(other, plays({"x": "jazz-", "y": "folk-"}, users=6, seed=2))
    await train(other)
    for user in ("x1", "a0", "someone-new"):
        answer = await recommend(other, user)
        assert not any(i["itemId"].startswith("rock-") for i in answer["items"]), answer
    beta_similar = (await other.execute(SIMILAR, {"item": "rock-2"}))["data"]["similarItems"]
    assert beta_similar == []


async def test_scheduled_retraining_replaces_stale_models(
    gql: GraphQLClient, app: Starlette
) -> None:
    await record(gql, plays({"a": "rock-"}, users=4, seed=3))
    model = await train(gql)
    ml = app.state.gateway.services.ml
    service = ml.recommender
    later = int(time.time() * 1000) + 7 * 3_600_000
    [(tenant, stale)] = await service.stale(later, RETRAIN_SECONDS)
    assert (tenant, stale.id) == ("acme", model["id"])
    assert await service.stale(int(time.time() * 1000), RETRAIN_SECONDS) == []
    task = asyncio.create_task(
        service.retrain_forever(ml.retrain_recommender, lambda: later, every_seconds=1.0)
    )
    try:
        deadline = time.monotonic() + 60
        while (await ml.registry.get("acme", model["id"])).revision < 2:
            assert time.monotonic() < deadline, "the model was not retrained"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    found = await recommend(gql, "a1")
    assert found["modelId"] == model["id"]


async def test_bad_arguments_and_predict_are_refused(gql: GraphQLClient) -> None:
    await record(gql, plays({"a": "rock-"}, users=4, seed=3))
    model = await train(gql)
    bad = await gql.execute(RECOMMEND, {"user": "a0", "first": 0})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    predict = await gql.execute(
        "mutation($id: ID!) { predict(modelId: $id) { model { id } } }", {"id": model["id"]}
    )
    assert predict["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong = await gql.execute(
        TRAIN,
        {"input": {"metric": "song_play", "kind": "RECOMMENDER", "method": "als"}},
    )
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_erased_user_leaves_the_recommender_at_once(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    """The model kept the user's plays as history: after eraseUser it personalises for
    them no more (their row is gone), while everyone else's still works."""
    await record(gql, plays({"a": "rock-", "b": "jazz-"}, users=10, seed=3))
    model = await train(gql)
    assert (await recommend(gql, "b3"))["personalised"]
    admin = GraphQLClient(gql.http, await make_key("acme", "admin"))
    erased = await admin.execute(
        'mutation { eraseUser(userId: "b3") { counts { store deleted } } }'
    )
    assert "errors" not in erased, erased
    counts = {c["store"]: c["deleted"] for c in erased["data"]["eraseUser"]["counts"]}
    assert counts["models:recommender"] == 1
    after = await recommend(gql, "b3")
    assert not after["personalised"]  # popularity: the model no longer knows b3
    assert after["modelId"] == model["id"]
    assert (await recommend(gql, "b4"))["personalised"]
