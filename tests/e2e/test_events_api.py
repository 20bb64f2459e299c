"""Events: record, page through with cursors, count per bucket."""

from __future__ import annotations

import time

from tests.conftest import GraphQLClient

RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""

PAGE = """query($after: String) {
  events(filter: {type: "song_play"}, first: 4, after: $after) {
    edges { cursor node { userId metadata timestamp } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


async def test_cursor_pagination_walks_all_events_newest_first(gql: GraphQLClient) -> None:
    base = int(time.time() * 1000) - 600_000
    events = [
        {"type": "song_play", "userId": f"u{i}", "timestamp": iso(base + i * 1000),
         "metadata": {"song_id": f"s{i}"}}
        for i in range(10)
    ] + [{"type": "signup", "userId": "x"}]  # fmt: skip
    result = await gql.execute(RECORD, {"events": events})
    assert result["data"]["recordEvents"] == {"accepted": 11, "rejected": []}

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await gql.execute(PAGE, {"after": after}))["data"]["events"]
        seen += [edge["node"]["userId"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [f"u{i}" for i in range(9, -1, -1)]


async def test_events_filter_by_user_and_time_range(gql: GraphQLClient) -> None:
    base = int(time.time() * 1000) - 600_000
    await gql.execute(
        RECORD,
        {
            "events": [
                {"type": "song_play", "userId": "alice", "timestamp": iso(base)},
                {"type": "song_play", "userId": "alice", "timestamp": iso(base + 120_000)},
                {"type": "song_play", "userId": "bob", "timestamp": iso(base + 120_000)},
            ]
        },
    )
    body = await gql.execute(
        """query($from: DateTime) { events(filter: {userId: "alice", from: $from}) {
             nodes { userId timestamp } } }""",
        {"from": iso(base + 60_000)},
    )
    nodes = body["data"]["events"]["nodes"]
    assert [n["userId"] for n in nodes] == ["alice"]
    assert nodes[0]["timestamp"].startswith(iso(base + 120_000)[:19])


async def test_event_counts_per_bucket_grouped_by_metadata(gql: GraphQLClient) -> None:
    hour = 3_600_000
    base = (int(time.time() * 1000) // hour - 3) * hour
    events = [
        {"type": "song_play", "timestamp": iso(base + 60_000), "metadata": {"country": "DE"}},
        {"type": "song_play", "timestamp": iso(base + 120_000), "metadata": {"country": "DE"}},
        {"type": "song_play", "timestamp": iso(base + hour), "metadata": {"country": "DE"}},
        {"type": "song_play", "timestamp": iso(base + hour), "metadata": {"country": "US"}},
    ]
    await gql.execute(RECORD, {"events": events})
    body = await gql.execute(
        '{ eventCounts(type: "song_play", last: "6h", step: "1h", groupBy: "country") '
        "{ name labels data } }"
    )
    series = {s["labels"]["country"]: s for s in body["data"]["eventCounts"]}
    assert series["DE"]["data"] == {"t": [base, base + hour], "v": [2.0, 1.0]}
    assert series["US"]["data"] == {"t": [base + hour], "v": [1.0]}
    assert series["US"]["name"] == "song_play"
    total = await gql.execute('{ eventCounts(type: "song_play", last: "6h", step: "6h") { data } }')
    assert sum(total["data"]["eventCounts"][0]["data"]["v"]) == 4.0


async def test_bad_cursor_and_page_size_are_user_errors(gql: GraphQLClient) -> None:
    body = await gql.execute('{ events(filter: {}, after: "%%%") { nodes { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql.execute("{ events(filter: {}, first: 5000) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_same_body_sent_again_is_stored_once(gql: GraphQLClient) -> None:
    """A client retrying after a timeout: events with their own time are the same
    events; twins within one body are all kept; events without a time are new."""
    base = int(time.time() * 1000) - 60_000
    timed = [
        {"type": "retry", "userId": "u1", "timestamp": iso(base), "metadata": {"n": 1}},
        {"type": "retry", "userId": "u1", "timestamp": iso(base), "metadata": {"n": 1}},
        {"type": "retry", "userId": "u2", "timestamp": iso(base + 1)},
    ]
    for _ in range(3):
        result = await gql.execute(RECORD, {"events": timed})
        assert result["data"]["recordEvents"]["accepted"] == 3, result
    untimed = [{"type": "retry", "userId": "u3"}]
    for _ in range(2):
        await gql.execute(RECORD, {"events": untimed})
    body = await gql.execute(
        '{ events(filter: {type: "retry", last: "1d"}, first: 50) { nodes { id userId } } }'
    )
    nodes = body["data"]["events"]["nodes"]
    assert sorted(n["userId"] for n in nodes) == ["u1", "u1", "u2", "u3", "u3"]
    assert len({n["id"] for n in nodes}) == 5
