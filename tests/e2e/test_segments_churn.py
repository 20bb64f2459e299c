"""User features, segments and churn risk end to end: generated events in, the answers
checked against figures computed in plain Python here from the generated events (and,
for churn, from what the generated users did after the range).

Runs on the embedded store, and on Elasticsearch (osmem-server) with
`--backends production`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from starlette.applications import Starlette

from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls

DAY_MS = 86_400_000
TYPES = ["song_play", "search", "skip", "subscribe"]
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
BEHAVIOUR_FIELDS = (
    "userId recencyDays frequency activeDays tenureDays trend eventTypes topTypeShare"
)
FEATURES = f"""query($type: String, $first: Int!, $after: String, $from: DateTime,
                     $to: DateTime) {{
  userFeatures(eventType: $type, first: $first, after: $after, from: $from, to: $to) {{
    {BEHAVIOUR_FIELDS}
  }}
}}"""
SEGMENTS = """query($segments: Int, $examples: Int!, $from: DateTime, $to: DateTime) {
  userSegments(segments: $segments, examples: $examples, from: $from, to: $to) {
    from to users k silhouette
    segments {
      id size share description exampleUserIds
      traits { feature zScore words }
      centroid { recencyDays frequency activeDays tenureDays trend eventTypes topTypeShare }
    }
  }
}"""
CHURN = f"""query($horizon: String!, $first: Int!, $from: DateTime, $to: DateTime) {{
  churnRisk(horizon: $horizon, first: $first, from: $from, to: $to) {{
    from to cutoff scoredUsers
    users {{ userId probability features {{ {BEHAVIOUR_FIELDS} }} }}
    model {{
      auc brier baseRate trainingUsers heldOutUsers
      calibration {{ lower upper users meanPredicted observed }}
    }}
  }}
}}"""

Event = dict[str, Any]


@pytest.fixture
async def ml_ready(app: Starlette) -> None:
    """The ML workers are up: their first start (seconds to minutes on a busy machine)
    must not eat into a request's deadline."""
    services: Services = app.state.gateway.services
    async with asyncio.timeout(300):
        await asyncio.to_thread(services.ml.workers.prestart)


def reads(app: Starlette) -> int:
    """Event reads so far (DuckDB: one per query; Elasticsearch: one per page)."""
    services: Services = app.state.gateway.services
    return backend_calls(services.metrics.registry, operation="count_events")


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def ms_of(event: Event) -> int:
    return int(event["ts"])


def day_start_ago(days: int) -> int:
    return (int(time.time() * 1000) // DAY_MS - days) * DAY_MS


async def record(gql: GraphQLClient, events: Sequence[Event]) -> None:
    """In chunks, as a client would send them; `ts` is this file's own epoch-ms copy."""
    for at in range(0, len(events), 1000):
        chunk = [
            {k: v for k, v in e.items() if k != "ts"} | {"timestamp": iso(e["ts"])}
            for e in events[at : at + 1000]
        ]
        result = await gql.execute(RECORD, {"events": chunk})
        assert result["data"]["recordEvents"] == {"accepted": len(chunk), "rejected": []}


def event(user: str, kind: str, ts: int) -> Event:
    return {"type": kind, "userId": user, "ts": ts, "metadata": {"song_id": f"s{ts % 97}"}}


# -- features -------------------------------------------------------------------------


def expected_features(
    events: Sequence[Event], kind: str | None, start: int, end: int
) -> list[Event]:
    """The features the slow, obvious way, by user id."""
    by_user: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if start <= ms_of(e) < end and (kind is None or e["type"] == kind) and e.get("userId"):
            by_user[e["userId"]].append(e)
    middle = start + (end - start) // 2
    out = []
    for user in sorted(by_user):
        mine = by_user[user]
        times = [ms_of(e) for e in mine]
        late = sum(1 for t in times if t >= middle)
        kinds = Counter(e["type"] for e in mine)
        out.append(
            {
                "userId": user,
                "recencyDays": (end - max(times)) / DAY_MS,
                "frequency": len(mine),
                "activeDays": len({t // DAY_MS for t in times}),
                "tenureDays": (end - min(times)) / DAY_MS,
                "trend": (late - (len(mine) - late)) / len(mine),
                "eventTypes": len(kinds),
                "topTypeShare": max(kinds.values()) / len(mine),
            }
        )
    return out


def feature_events(start: int, seed: int) -> list[Event]:
    """25 users with varied habits over 20 days, events before and after the range, and
    events without a user."""
    rng = random.Random(seed)
    events: list[Event] = []
    for u in range(25):
        rate = rng.choice([0.2, 0.5, 0.9])
        first_day = rng.randrange(-3, 15)
        kinds = TYPES[: rng.randint(1, 4)]
        for day in range(first_day, 23):
            if rng.random() > rate:
                continue
            for _ in range(rng.randint(1, 4)):
                ts = start + day * DAY_MS + rng.randrange(DAY_MS)
                events.append(event(f"user{u:02d}", rng.choice(kinds), ts))
    for _ in range(5):
        events.append({"type": "song_play", "ts": start + rng.randrange(20 * DAY_MS)})
    return events


async def test_user_features_match_the_features_computed_in_python(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    start = day_start_ago(25) + 7 * 3_600_000  # not on a day boundary
    end = start + 20 * DAY_MS
    events = feature_events(start, seed=4)
    await record(gql, events)
    window = {"from": iso(start), "to": iso(end)}
    for kind in (None, "song_play"):
        want = expected_features(events, kind, start, end)
        assert len(want) > 15
        before = reads(app)
        result = await gql.execute(FEATURES, {"type": kind, "first": 1000, **window})
        assert reads(app) - before == 1
        assert "errors" not in result, result
        assert result["data"]["userFeatures"] == [pytest.approx(w) for w in want], kind
    # paging by user id
    result = await gql.execute(FEATURES, {"first": 5, "after": "user10", **window})
    want = expected_features(events, None, start, end)
    assert [u["userId"] for u in result["data"]["userFeatures"]] == [
        w["userId"] for w in want if w["userId"] > "user10"
    ][:5]
    # another tenant sees none of it
    other = GraphQLClient(gql.http, await make_key("beta"))
    result = await other.execute(FEATURES, {"first": 1000, **window})
    assert result["data"]["userFeatures"] == []


# -- segments -------------------------------------------------------------------------

PLANTED = {"power": "high frequency", "lapsed": "lapsed", "new": "new"}


def segment_events(start: int, seed: int, per_group: int) -> tuple[list[Event], dict[str, str]]:
    """Three planted groups over 60 days: power users (several events nearly every day,
    every type), lapsed users (a few events in the first 20 days only) and new users
    (their first event in the last 10 days)."""
    rng = random.Random(seed)
    events: list[Event] = []
    planted: dict[str, str] = {}
    for u in range(3 * per_group):
        group = ("power", "lapsed", "new")[u % 3]
        user = f"{group[0]}{u:03d}"
        planted[user] = group
        days, rate, per_day = {
            "power": (range(0, 60), 0.9, (3, 7)),
            "lapsed": (range(0, 20), 0.4, (1, 2)),
            "new": (range(50 + rng.randrange(0, 4), 60), 0.6, (1, 2)),
        }[group]
        kinds = TYPES if group == "power" else TYPES[:2]
        active = [d for d in days if rng.random() < rate] or [days[0]]
        for day in active:
            for _ in range(rng.randint(*per_day)):
                ts = start + day * DAY_MS + rng.randrange(DAY_MS)
                events.append(event(user, rng.choice(kinds), ts))
    return events, planted


def adjusted_rand_index(a: Sequence[Any], b: Sequence[Any]) -> float:
    """ARI from the contingency table (Hubert and Arabie)."""

    def pairs(n: int) -> float:
        return n * (n - 1) / 2

    table = Counter(zip(a, b, strict=True))
    index = sum(pairs(n) for n in table.values())
    rows = sum(pairs(n) for n in Counter(a).values())
    columns = sum(pairs(n) for n in Counter(b).values())
    expected = rows * columns / pairs(len(a))
    return (index - expected) / ((rows + columns) / 2 - expected)


async def test_segments_recover_the_planted_groups(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey, ml_ready: None
) -> None:
    start = day_start_ago(61)
    end = start + 60 * DAY_MS
    events, planted = segment_events(start, seed=7, per_group=20)
    await record(gql, events)
    window = {"from": iso(start), "to": iso(end)}
    before = reads(app)
    result = await gql.execute(SEGMENTS, {"examples": 20, **window})
    assert reads(app) - before == 1
    assert "errors" not in result, result
    found = result["data"]["userSegments"]
    assert found["users"] == len(planted)
    assert found["k"] == 3
    assert found["silhouette"] is not None
    segments = found["segments"]
    assert sum(s["size"] for s in segments) == len(planted)
    assert [s["size"] for s in segments] == sorted((s["size"] for s in segments), reverse=True)
    # at most 20 users a segment: each segment lists them all, so every user's segment
    # is known (a segment of more than 20 lists only 20, and the count below fails)
    assert all(len(s["exampleUserIds"]) == min(20, s["size"]) for s in segments)
    label = {user: s["id"] for s in segments for user in s["exampleUserIds"]}
    assert len(label) == len(planted)
    users = sorted(label)
    ari = adjusted_rand_index([planted[u] for u in users], [label[u] for u in users])
    assert ari >= 0.8, ari
    for s in segments:
        majority, _ = Counter(planted[u] for u in s["exampleUserIds"]).most_common(1)[0]
        assert PLANTED[majority] in [t["words"] for t in s["traits"]], (majority, s)
        assert PLANTED[majority] in s["description"]
    # a fixed k is honoured, and the same request gives the same segments
    again = await gql.execute(SEGMENTS, {"segments": 2, "examples": 3, **window})
    assert again["data"]["userSegments"]["k"] == 2
    assert again["data"]["userSegments"]["silhouette"] is None
    repeat = await gql.execute(SEGMENTS, {"examples": 20, **window})
    assert repeat["data"]["userSegments"] == found
    # another tenant has no users to segment
    other = GraphQLClient(gql.http, await make_key("beta"))
    result = await other.execute(SEGMENTS, {"examples": 3, **window})
    (error,) = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "from"}


async def test_segment_centroids_are_the_means_of_their_users(
    gql: GraphQLClient, ml_ready: None
) -> None:
    start = day_start_ago(61)
    end = start + 60 * DAY_MS
    events, planted = segment_events(start, seed=8, per_group=12)
    await record(gql, events)
    window = {"from": iso(start), "to": iso(end)}
    result = await gql.execute(SEGMENTS, {"segments": 3, "examples": 20, **window})
    segments = result["data"]["userSegments"]["segments"]
    features = {f["userId"]: f for f in expected_features(events, None, start, end)}
    assert len(features) == len(planted)
    listed = [s for s in segments if s["size"] <= 20]  # every user of these is an example
    assert len(listed) >= 2
    for s in listed:
        assert len(s["exampleUserIds"]) == s["size"]
        assert s["share"] == pytest.approx(s["size"] / len(planted))
        for name, value in s["centroid"].items():
            mean = sum(features[u][name] for u in s["exampleUserIds"]) / s["size"]
            assert value == pytest.approx(mean), (name, s["id"])


# -- churn ----------------------------------------------------------------------------


def churn_events(base: int, users: int, seed: int) -> list[Event]:
    """Users join over time, are active on a share of days, and quit after a random
    lifetime; before quitting they fade (fewer active days), so churn follows recency
    and trend. Days 0..104 after `base`."""
    rng = random.Random(seed)
    events: list[Event] = []
    for u in range(users):
        joined = rng.randrange(-60, 100)
        quits = joined + int(rng.expovariate(1 / 50)) + 3
        rate = rng.uniform(0.15, 0.7)
        for day in range(max(joined, 0), min(quits, 104)):
            fade = min(1.0, (quits - day) / 15)
            if rng.random() < rate * fade:
                for _ in range(rng.randint(1, 3)):
                    ts = base + day * DAY_MS + rng.randrange(DAY_MS)
                    events.append(event(f"c{u:04d}", rng.choice(TYPES[:3]), ts))
    return events


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a churned user outranks one who stayed (ties count half)."""
    positive = [s for s, y in zip(scores, labels, strict=True) if y]
    negative = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


CALIBRATION_TOLERANCE = 0.15  # |mean predicted - observed| per bin of 30+ users


async def test_churn_risk_ranks_and_calibrates_against_what_users_did_next(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey, ml_ready: None
) -> None:
    base = day_start_ago(105)
    end = base + 90 * DAY_MS
    horizon = 14 * DAY_MS
    events = churn_events(base, users=400, seed=3)
    await record(gql, events)
    window = {"from": iso(base), "to": iso(end)}
    before = reads(app)
    result = await gql.execute(CHURN, {"horizon": "14d", "first": 1000, **window})
    assert reads(app) - before == 2  # the training and the scoring window
    assert "errors" not in result, result
    risk = result["data"]["churnRisk"]
    # who was scored: everyone with an event in [from + horizon, to)
    scored = expected_features(events, None, base + horizon, end)
    assert risk["scoredUsers"] == len(scored) == len(risk["users"])
    by_user = {w["userId"]: w for w in scored}
    for user in risk["users"]:
        assert user["features"] == pytest.approx(by_user[user["userId"]])
    probabilities = [u["probability"] for u in risk["users"]]
    assert probabilities == sorted(probabilities, reverse=True)
    # ground truth: no event in the horizon after the range's end
    came_back = {e["userId"] for e in events if end <= ms_of(e) < end + horizon}
    truth = [int(u["userId"] not in came_back) for u in risk["users"]]
    measured = auc(probabilities, truth)
    assert measured >= 0.75, measured
    observed_rate = sum(truth) / len(truth)
    assert abs(sum(probabilities) / len(probabilities) - observed_rate) < 0.1
    bins: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for p, y in zip(probabilities, truth, strict=True):
        bins[min(int(p * 10), 9)].append((p, y))
    checked = 0
    for members in bins.values():
        if len(members) >= 30:
            predicted = sum(p for p, _ in members) / len(members)
            observed = sum(y for _, y in members) / len(members)
            assert abs(predicted - observed) <= CALIBRATION_TOLERANCE, (predicted, observed)
            checked += 1
    assert checked >= 2
    # the model's own held-out figures agree with its training labels, seen from here
    cutoff = end - horizon
    trained = expected_features(events, None, base, cutoff)
    later = {e["userId"] for e in events if cutoff <= ms_of(e) < end}
    base_rate = sum(1 for w in trained if w["userId"] not in later) / len(trained)
    model = risk["model"]
    assert model["baseRate"] == pytest.approx(base_rate)
    assert model["trainingUsers"] + model["heldOutUsers"] == len(trained)
    assert model["auc"] >= 0.75
    assert 0 < model["brier"] < 0.25
    assert sum(b["users"] for b in model["calibration"]) == model["heldOutUsers"]
    # fewer asked, the same first users
    top = await gql.execute(CHURN, {"horizon": "14d", "first": 10, **window})
    assert top["data"]["churnRisk"]["users"] == risk["users"][:10]
    # another tenant has no history
    other = GraphQLClient(gql.http, await make_key("beta"))
    result = await other.execute(CHURN, {"horizon": "14d", "first": 10, **window})
    (error,) = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "HISTORY_TOO_SHORT"


async def test_churn_needs_history_and_both_outcomes(gql: GraphQLClient) -> None:
    base = day_start_ago(40)
    end = base + 30 * DAY_MS
    # 50 users active every day: nobody churns
    events = [
        event(f"s{u:02d}", "song_play", base + day * DAY_MS + u * 1000)
        for u in range(50)
        for day in range(30)
    ]
    await record(gql, events)
    window = {"from": iso(base), "to": iso(end)}
    result = await gql.execute(CHURN, {"horizon": "7d", "first": 10, **window})
    (error,) = result["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "horizon",
        "reason": "ONE_CLASS",
    }
    result = await gql.execute(CHURN, {"horizon": "20d", "first": 10, **window})
    (error,) = result["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "horizon",
        "reason": "HISTORY_TOO_SHORT",
    }


async def test_bad_arguments_are_refused(gql: GraphQLClient) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    for query, variables, field in (
        (SEGMENTS, {"segments": 1, "examples": 3}, "segments"),
        (SEGMENTS, {"segments": 11, "examples": 3}, "segments"),
        (SEGMENTS, {"examples": 21}, "examples"),
        (CHURN, {"horizon": "soon", "first": 10}, "horizon"),
        (CHURN, {"horizon": "1h", "first": 10}, "horizon"),
        (CHURN, {"horizon": "181d", "first": 10}, "horizon"),
        (CHURN, {"horizon": "14d", "first": 0}, "first"),
        (CHURN, {"horizon": "14d", "first": 1001}, "first"),
        (FEATURES, {"first": 0}, "first"),
        (FEATURES, {"first": 10, "type": "not a type!"}, "eventType"),
    ):
        result = await gql.execute(query, {**window, **variables})
        (error,) = result["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (variables, error)
    wide = {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    for query, variables in (
        (SEGMENTS, {"examples": 3}),
        (CHURN, {"horizon": "14d", "first": 10}),
        (FEATURES, {"first": 10}),
    ):
        result = await gql.execute(query, {**wide, **variables})
        assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_the_ari_here_is_one_for_equal_partitions_and_low_for_unrelated() -> None:
    assert adjusted_rand_index([0, 0, 1, 1, 2, 2], ["a", "a", "b", "b", "c", "c"]) == 1.0
    assert adjusted_rand_index([0, 1, 0, 1, 0, 1], [0, 0, 0, 1, 1, 1]) < 0.2
    assert math.isclose(auc([0.9, 0.8, 0.1], [1, 1, 0]), 1.0)
