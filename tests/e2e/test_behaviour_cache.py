"""Behaviour and engagement answers over a past range come from the cache until the
tenant's events change: a write into the range (or an erasure) makes the next answer
new, and it includes the change.

Runs on the embedded store with the memory cache, and on Elasticsearch with Redis as
the cache with `--backends production`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls

DAY_MS = 86_400_000
MINUTE_MS = 60_000
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
ERASE = "mutation($user: String!) { eraseUser(userId: $user) { userId } }"
RANGE = "from: $from, to: $to"
# each field's query over the range, and the figure a new user's visit must raise by one
FIELDS: dict[str, tuple[str, Any]] = {
    "retentionCohorts": (
        f"retentionCohorts(cohort: DAY, periods: 3, {RANGE}) {{ size }}",
        lambda a: sum(c["size"] for c in a),
    ),
    "funnel": (
        f'funnel(steps: ["sign_up", "search", "subscribe"], within: "1h", {RANGE}) '
        "{ steps { users } }",
        lambda a: a["steps"][2]["users"],
    ),
    "activeUsers": (f"activeUsers(interval: WEEK, {RANGE}) {{ total }}", lambda a: a["total"]),
    "stickiness": (
        f"stickiness({RANGE}) {{ monthlyActiveUsers }}",
        lambda a: a["monthlyActiveUsers"],
    ),
    "topItems": (
        f'topItems(eventType: "song_play", field: "song_id", {RANGE}) {{ value plays }}',
        lambda a: next(i["plays"] for i in a if i["value"] == "hit"),
    ),
    "sessions": (f"sessions({RANGE}) {{ count users }}", lambda a: a["count"]),
    "nextEvents": (
        f'nextEvents(after: "sign_up", {RANGE}) {{ eventType transitions }}',
        lambda a: sum(n["transitions"] for n in a),
    ),
    "newUsers": (
        f"newUsers(interval: DAY, {RANGE}) {{ buckets {{ new }} }}",
        lambda a: sum(b["new"] for b in a["buckets"]),
    ),
}

Plain = dict[str, Any]


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def visit(user: str, at: int) -> list[Plain]:
    """Sign up, search, subscribe and play "hit", a minute apart: one session."""
    kinds = ["sign_up", "search", "subscribe", "song_play"]
    return [
        {
            "type": kind,
            "userId": user,
            "timestamp": iso(at + i * MINUTE_MS),
            "metadata": {"song_id": "hit"} if kind == "song_play" else {},
        }
        for i, kind in enumerate(kinds)
    ]


def reads(app: Starlette) -> int:
    services: Services = app.state.gateway.services
    registry = services.metrics.registry
    return sum(backend_calls(registry, operation=op) for op in ("count_events", "query_events"))


async def record(gql: GraphQLClient, events: list[Plain]) -> None:
    result = await gql.execute(RECORD, {"events": events})
    assert result["data"]["recordEvents"] == {"accepted": len(events), "rejected": []}


async def answer(gql: GraphQLClient, field: str, span: Plain) -> Any:
    body = await gql.execute(
        f"query($from: DateTime, $to: DateTime) {{ {FIELDS[field][0]} }}", span
    )
    assert "errors" not in body, body["errors"]
    return body["data"][field]


async def answers(app: Starlette, gql: GraphQLClient, span: Plain) -> tuple[Plain, int]:
    """Every field's answer, and the store reads they took."""
    before = reads(app)
    found = {field: await answer(gql, field, span) for field in FIELDS}
    return found, reads(app) - before


def figures(found: Plain) -> Plain:
    return {field: FIELDS[field][1](found[field]) for field in FIELDS}


async def test_past_range_answers_are_cached_until_an_event_is_written(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    day0 = int(datetime.now(UTC).timestamp() * 1000) // DAY_MS * DAY_MS - 10 * DAY_MS
    span = {"from": iso(day0), "to": iso(day0 + 5 * DAY_MS)}  # ended five days ago
    await record(gql, [e for u in range(6) for e in visit(f"b{u}", day0 + u * 17 * 3_600_000)])

    first, cost = await answers(app, gql, span)
    assert cost >= len(FIELDS)  # each asked its store
    again, cost = await answers(app, gql, span)
    assert cost == 0
    assert again == first
    # another tenant is not served acme's cached answers
    beta = GraphQLClient(gql.http, await make_key("beta"))
    assert (await answer(beta, "sessions", span))["count"] == 0

    await record(gql, visit("newcomer", day0 + 2 * DAY_MS))  # into the cached range
    fresh, cost = await answers(app, gql, span)
    assert cost >= len(FIELDS)
    raised = {field: figure + 1 for field, figure in figures(first).items()}
    assert figures(fresh) == raised
    assert (await answers(app, gql, span))[1] == 0  # cached again

    admin = GraphQLClient(gql.http, await make_key("acme", "ingest,read,write,admin"))
    erased = await admin.execute(ERASE, {"user": "newcomer"})
    assert "errors" not in erased, erased
    after, cost = await answers(app, gql, span)
    assert cost >= len(FIELDS)
    assert figures(after) == figures(first)


async def test_a_range_reaching_now_is_never_cached(app: Starlette, gql: GraphQLClient) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    await record(gql, visit("b0", now - DAY_MS))
    span = {"from": iso(now - 2 * DAY_MS), "to": iso(now + DAY_MS)}
    for _ in range(2):
        before = reads(app)
        assert (await answer(gql, "sessions", span))["count"] == 1
        assert reads(app) - before == 1
    # `last` ranges end when asked: not kept either
    before = reads(app)
    for _ in range(2):
        body = await gql.execute('{ sessions(last: "7d") { count } }')
        assert body["data"]["sessions"]["count"] == 1
    assert reads(app) - before == 2
