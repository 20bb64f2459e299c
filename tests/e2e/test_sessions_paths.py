"""Sessions, next-event paths and new vs returning users end to end: generated events
in, the answers checked against the same figures computed in plain Python here.

Runs on the embedded store, and on Elasticsearch (osmem-server) with
`--backends production`.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
SESSIONS = """query($type: String, $gap: String!, $interval: ActivityInterval!,
                   $from: DateTime, $to: DateTime) {
  sessions(eventType: $type, gap: $gap, interval: $interval, from: $from, to: $to) {
    interval gapSeconds from to count users averageSeconds medianSeconds averageEvents
    buckets { start sessions }
  }
}"""
NEXT = """query($after: String!, $first: Int!, $within: String!, $from: DateTime,
               $to: DateTime) {
  nextEvents(after: $after, first: $first, within: $within, from: $from, to: $to) {
    eventType transitions users share
  }
}"""
NEW = """query($interval: ActivityInterval!, $from: DateTime, $to: DateTime) {
  newUsers(interval: $interval, from: $from, to: $to) {
    interval from to buckets { start new returning total }
  }
}"""
# most events are plays; a few of each other kind
KINDS = ["song_play"] * 6 + ["search"] * 3 + ["skip"] * 2 + ["subscribe", "sign_up"]
# steps inside a burst: some exactly at the 30m gap (same session), some just past it
STEPS_MS = [MINUTE_MS, 4 * MINUTE_MS, 6 * MINUTE_MS, 17 * MINUTE_MS, 30 * MINUTE_MS]
STEPS_MS += [30 * MINUTE_MS + 1000]

Plain = dict[str, Any]


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def ms_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def generate(prefix: str, seed: int, day0: int) -> list[Plain]:
    """24 users in bursts of events hours apart, from before the range to after it; one
    user first seen early on the range's first day, before the range starts; a few
    anonymous events. Each user's events have distinct times."""
    rng = random.Random(seed)
    events: list[Plain] = []

    def add(kind: str, user: str | None, ms: int) -> None:
        events.append({"type": kind, "userId": user, "timestamp": iso(ms), "metadata": {}})

    for u in range(24):
        user = f"{prefix}{u}"
        at = day0 + rng.randrange(0, 6 * DAY_MS) // 1000 * 1000 + u
        if u % 6 == 0:  # first seen days before the range
            at = day0 - rng.randrange(1, 20) * DAY_MS
        for _ in range(rng.randint(1, 6)):
            for _ in range(rng.randint(1, 6)):
                add(rng.choice(KINDS), user, at)
                at += rng.choice(STEPS_MS)
            at += rng.randrange(1, 40) * HOUR_MS
    add("sign_up", f"{prefix}early", day0 + 2 * HOUR_MS)
    add("song_play", f"{prefix}early", day0 + 10 * HOUR_MS)
    for n in range(5):
        add("song_play", None, day0 + n * DAY_MS + HOUR_MS)
    return events


def timed(events: list[Plain]) -> list[tuple[str, int, str]]:
    return [(e["userId"], ms_of(e["timestamp"]), e["type"]) for e in events if e["userId"]]


def interval_of(ms: int, interval: str) -> date:
    day = datetime.fromtimestamp(ms / 1000, UTC).date()
    if interval == "DAY":
        return day
    if interval == "WEEK":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def intervals(start: int, end: int, interval: str) -> list[date]:
    """Every interval [start, end) touches, oldest first."""
    out: list[date] = []
    at, last = interval_of(start, interval), interval_of(end - 1, interval)
    while at <= last:
        out.append(at)
        if interval == "MONTH":
            at = (at + timedelta(days=32)).replace(day=1)
        else:
            at += timedelta(days=1 if interval == "DAY" else 7)
    return out


def median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def expected_sessions(
    events: list[Plain], kind: str | None, gap_ms: int, start: int, end: int, interval: str
) -> Plain:
    """Sessions the slow, obvious way: each user's times in order, cut where the gap is
    exceeded."""
    times: dict[str, list[int]] = defaultdict(list)
    for user, ms, k in timed(events):
        if start <= ms < end and kind in (None, k):
            times[user].append(ms)
    sessions: list[list[int]] = []
    for mine in times.values():
        mine.sort()
        current = [mine[0]]
        for ms in mine[1:]:
            if ms - current[-1] > gap_ms:
                sessions.append(current)
                current = []
            current.append(ms)
        sessions.append(current)
    started = Counter(interval_of(s[0], interval) for s in sessions)
    lengths = [s[-1] - s[0] for s in sessions]
    return {
        "count": len(sessions),
        "users": len(times),
        "averageSeconds": sum(lengths) / len(lengths) / 1000,
        "medianSeconds": median(lengths) / 1000,
        "averageEvents": sum(len(s) for s in sessions) / len(sessions),
        "buckets": [(midnight_ms(d), started[d]) for d in intervals(start, end, interval)],
        "lengths": lengths,
    }


def expected_next(
    events: list[Plain], after: str, within_ms: int, start: int, end: int, first: int
) -> list[Plain]:
    mine: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user, ms, kind in timed(events):
        if start <= ms < end:
            mine[user].append((ms, kind))
    moves: Counter[str] = Counter()
    movers: dict[str, set[str]] = defaultdict(set)
    for user, evs in mine.items():
        evs.sort()
        for i, (ms, kind) in enumerate(evs):
            if kind != after:
                continue
            step = "(end)"
            if i + 1 < len(evs) and evs[i + 1][0] - ms <= within_ms:
                step = evs[i + 1][1]
            moves[step] += 1
            movers[step].add(user)
    total = sum(moves.values())
    ranked = sorted(moves.items(), key=lambda item: (-item[1], item[0]))[:first]
    return [
        {"eventType": k, "transitions": n, "users": len(movers[k]), "share": n / total}
        for k, n in ranked
    ]


def expected_new(events: list[Plain], start: int, end: int, interval: str) -> list[Plain]:
    first_seen: dict[str, int] = {}
    for user, ms, _ in timed(events):
        first_seen[user] = min(ms, first_seen.get(user, ms))
    active: dict[date, set[str]] = defaultdict(set)
    for user, ms, _ in timed(events):
        if start <= ms < end:
            active[interval_of(ms, interval)].add(user)
    out = []
    for d in intervals(start, end, interval):
        new = sum(1 for u in active[d] if interval_of(first_seen[u], interval) == d)
        total = len(active[d])
        out.append({"start": midnight_ms(d), "new": new, "returning": total - new, "total": total})
    return out


async def record(gql: GraphQLClient, events: list[Plain]) -> None:
    for at in range(0, len(events), 200):
        chunk = events[at : at + 200]
        result = await gql.execute(RECORD, {"events": chunk})
        assert result["data"]["recordEvents"] == {"accepted": len(chunk), "rejected": []}


async def data(gql: GraphQLClient, query: str, variables: Plain) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def reads(app: Starlette) -> int:
    """Event reads so far: one per answer here (DuckDB: one query; Elasticsearch: one page
    or one aggregation, the data being far under 10,000 events)."""
    services: Services = app.state.gateway.services
    registry = services.metrics.registry
    return sum(backend_calls(registry, operation=op) for op in ("count_events", "query_events"))


def check_sessions(found: Plain, want: Plain) -> None:
    assert found["count"] == want["count"]
    assert found["users"] == want["users"]
    assert found["averageSeconds"] == pytest.approx(want["averageSeconds"])
    assert found["medianSeconds"] == pytest.approx(want["medianSeconds"])
    assert found["averageEvents"] == pytest.approx(want["averageEvents"])
    got = [(ms_of(b["start"]), b["sessions"]) for b in found["buckets"]]
    assert got == want["buckets"]


async def test_sessions_paths_and_new_users_match_plain_python(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    today = datetime.now(UTC).date()
    day0 = midnight_ms(today - timedelta(days=12))
    start, end = day0 + 6 * HOUR_MS, day0 + 9 * DAY_MS
    acme = generate("u", 7, day0)
    # the same user ids in another tenant, first seen far earlier, with other habits
    rival = generate("u", 8, day0 - 30 * DAY_MS) + generate("u", 9, day0)
    other = GraphQLClient(gql.http, await make_key("rival", "ingest,read"))
    await record(gql, acme)
    await record(other, rival)
    span = {"from": iso(start), "to": iso(end)}

    for kind, gap, gap_ms, interval in (
        (None, "30m", 30 * MINUTE_MS, "DAY"),
        (None, "5m", 5 * MINUTE_MS, "WEEK"),
        ("song_play", "30m", 30 * MINUTE_MS, "DAY"),
        ("search", "2h", 2 * HOUR_MS, "MONTH"),
    ):
        variables: Plain = {"type": kind, "gap": gap, "interval": interval, **span}
        before = reads(app)
        found = (await data(gql, SESSIONS, variables))["sessions"]
        assert reads(app) - before == 1
        want = expected_sessions(acme, kind, gap_ms, start, end, interval)
        check_sessions(found, want)
        assert found["gapSeconds"] == gap_ms / 1000
        assert ms_of(found["from"]) == start
        assert ms_of(found["to"]) == end
        if kind is None:  # the data has multi-event and one-event sessions
            assert 0 in want["lengths"]
            assert max(want["lengths"]) > 0
            assert want["count"] > want["users"] > 20
    cut = expected_sessions(acme, None, 30 * MINUTE_MS, start, end, "DAY")["count"]
    assert cut != expected_sessions(acme, None, 30 * MINUTE_MS - 1, start, end, "DAY")["count"]

    for after, within, within_ms, first in (
        ("search", "30m", 30 * MINUTE_MS, 10),
        ("song_play", "5m", 5 * MINUTE_MS, 10),
        ("song_play", "30m", 30 * MINUTE_MS, 2),
        ("sign_up", "24h", DAY_MS, 100),
    ):
        variables = {"after": after, "first": first, "within": within, **span}
        before = reads(app)
        found = (await data(gql, NEXT, variables))["nextEvents"]
        assert reads(app) - before == 1
        want_next = expected_next(acme, after, within_ms, start, end, first)
        assert [{**n, "share": pytest.approx(n["share"])} for n in want_next] == found, after
        assert any(n["eventType"] == "(end)" for n in want_next) or first < 10

    for interval in ("DAY", "WEEK", "MONTH"):
        before = reads(app)
        found = (await data(gql, NEW, {"interval": interval, **span}))["newUsers"]
        assert reads(app) - before == 1
        got = [
            {**{k: b[k] for k in ("new", "returning", "total")}, "start": ms_of(b["start"])}
            for b in found["buckets"]
        ]
        want_new = expected_new(acme, start, end, interval)
        assert got == want_new, interval
        assert sum(b["new"] for b in want_new) > 5
        assert sum(b["returning"] for b in want_new) > 5
    # "early" was first seen on the range's first day, before the range: new there
    days = (await data(gql, NEW, {"interval": "DAY", **span}))["newUsers"]["buckets"]
    assert days[0]["new"] >= 1

    # the rival tenant gets its own answers from its own events, and acme's held none
    theirs = (await data(other, SESSIONS, {"gap": "30m", "interval": "DAY", **span}))["sessions"]
    check_sessions(theirs, expected_sessions(rival, None, 30 * MINUTE_MS, start, end, "DAY"))
    variables = {"after": "search", "first": 10, "within": "30m", **span}
    found = (await data(other, NEXT, variables))["nextEvents"]
    want_next = expected_next(rival, "search", 30 * MINUTE_MS, start, end, 10)
    assert [{**n, "share": pytest.approx(n["share"])} for n in want_next] == found
    found = (await data(other, NEW, {"interval": "WEEK", **span}))["newUsers"]["buckets"]
    assert [b["new"] for b in found] == [b["new"] for b in expected_new(rival, start, end, "WEEK")]
    assert [b["new"] for b in found] != [b["new"] for b in expected_new(acme, start, end, "WEEK")]
    beta = GraphQLClient(gql.http, await make_key("beta"))
    empty = (await data(beta, SESSIONS, {"gap": "30m", "interval": "DAY", **span}))["sessions"]
    assert (empty["count"], empty["users"], empty["medianSeconds"]) == (0, 0, None)
    assert (await data(beta, NEXT, variables))["nextEvents"] == []
    found = (await data(beta, NEW, {"interval": "WEEK", **span}))["newUsers"]["buckets"]
    assert {b["total"] for b in found} == {0}


def error_of(body: Plain) -> Plain:
    assert body["data"] is None or None in body["data"].values(), body
    [error] = body["errors"]
    extensions: Plain = error["extensions"]
    return extensions


async def test_bad_arguments_are_refused(gql: GraphQLClient) -> None:
    span = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    for gap in ("59s", "25h", "0m", "soon"):
        body = await gql.execute(SESSIONS, {"gap": gap, "interval": "DAY", **span})
        assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "gap"}, gap
    body = await gql.execute(SESSIONS, {"gap": "30m", "interval": "DAY", "type": "a b", **span})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "eventType"}
    for interval_query, variables in ((SESSIONS, {"gap": "30m"}), (NEW, {})):
        body = await gql.execute(interval_query, {"interval": "YEAR", **span, **variables})
        assert error_of(body)["code"] == "BAD_USER_INPUT"
    body = await gql.execute("{ sessions(interval: YEAR) { count } }")
    assert error_of(body)["code"] == "GRAPHQL_VALIDATION_FAILED"
    wide = {"from": "2024-01-01T00:00:00Z", "to": "2025-06-01T00:00:00Z"}
    body = await gql.execute(SESSIONS, {"gap": "30m", "interval": "WEEK", **wide})
    assert error_of(body) == {"code": "QUERY_TOO_COMPLEX", "field": "from"}
    body = await gql.execute(NEXT, {"after": "search", "first": 10, "within": "30m", **wide})
    assert error_of(body) == {"code": "QUERY_TOO_COMPLEX", "field": "from"}
    ancient = {"from": "1990-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    body = await gql.execute(NEW, {"interval": "DAY", **ancient})
    assert error_of(body) == {"code": "QUERY_TOO_COMPLEX", "field": "interval"}
    for args, field in (
        ({"after": "search", "first": 0, "within": "30m"}, "first"),
        ({"after": "search", "first": 101, "within": "30m"}, "first"),
        ({"after": "search", "first": 10, "within": "0s"}, "within"),
        ({"after": "search", "first": 10, "within": "2d"}, "within"),
        ({"after": "not a type!", "first": 10, "within": "30m"}, "after"),
    ):
        body = await gql.execute(NEXT, {**args, **span})
        assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}, args
