"""Engagement end to end: activeUsers, stickiness and topItems against answers computed
here, in plain Python, from the generated events.

Runs on the embedded stores, and on Elasticsearch (osmem-server) with
`--backends production`; user counts stay far under Elasticsearch's cardinality
precision threshold (40,000), where they are exact.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls

RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""
ACTIVE = """query($interval: ActivityInterval!, $type: String, $from: DateTime, $to: DateTime) {
  activeUsers(interval: $interval, eventType: $type, from: $from, to: $to) {
    interval from to total buckets { start users }
  }
}"""
STICKY = """query($type: String, $from: DateTime, $to: DateTime) {
  stickiness(eventType: $type, from: $from, to: $to) {
    from to days dailyActiveUsers averageDailyActiveUsers monthlyActiveUsers stickiness
  }
}"""
TOP = """query($field: String!, $by: TopItemsMeasure!, $first: Int!, $from: DateTime,
            $to: DateTime) {
  topItems(eventType: "song_play", field: $field, by: $by, first: $first, from: $from, to: $to)
    { value plays users }
}"""
DAYS = 40
SONGS = [f"song-{i:02d}" for i in range(25)]
ARTISTS = ["ada", "bo", "cy", "di", "ed"]
COUNTRIES = ["DE", "FR", "SE", "US"]

Plain = dict[str, Any]


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def rare(phase: int) -> Callable[[int, date], bool]:
    """Active every ninth day, from day `phase`."""
    return lambda n, d: n % 9 == phase


def generate(seed: int, first_day: date, prefix: str) -> list[Plain]:
    """Users with known habits over `DAYS` days: daily listeners, one on weekdays only,
    weekly ones, occasional ones; a few anonymous plays; searches by someone else."""
    rng = random.Random(seed)
    habits: dict[str, Callable[[int, date], bool]] = {
        **{f"{prefix}daily{i}": lambda n, d: True for i in range(3)},
        f"{prefix}weekday": lambda n, d: d.weekday() < 5,
        f"{prefix}weekly0": lambda n, d: d.weekday() == 0,
        f"{prefix}weekly1": lambda n, d: d.weekday() == 5,
        f"{prefix}late": lambda n, d: n >= 25,
        **{f"{prefix}rare{i}": rare(i) for i in range(4)},
    }
    events: list[Plain] = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        start = midnight_ms(day)
        users: list[str | None] = [u for u, active in habits.items() if active(offset, day)]
        users += [None] if offset % 10 == 0 else []
        for user in users:
            for _ in range(rng.randint(1, 3)):
                song = rng.randrange(len(SONGS))
                events.append(
                    {
                        "type": "song_play",
                        "userId": user,
                        "timestamp": iso(start + rng.randrange(86_400_000)),
                        "metadata": {
                            "song_id": SONGS[song],
                            "artist": ARTISTS[song % len(ARTISTS)],
                            "country": rng.choice(COUNTRIES),
                        },
                    }
                )
        if offset % 4 == 0:
            events.append(
                {
                    "type": "search",
                    "userId": f"{prefix}searcher",
                    "timestamp": iso(start + 3_600_000),
                    "metadata": {"q": "x"},
                }
            )
    return events


def day_of(event: Plain) -> date:
    return datetime.fromisoformat(event["timestamp"]).date()


def expected_active(events: list[Plain], first_day: date, interval: str) -> list[Plain]:
    """Distinct users per UTC day, ISO week or month of `DAYS` days, zeros included."""

    def start_of(day: date) -> date:
        if interval == "DAY":
            return day
        if interval == "WEEK":
            return day - timedelta(days=day.weekday())
        return day.replace(day=1)

    users: dict[date, set[str]] = defaultdict(set)
    for event in events:
        if event["userId"] is not None:
            users[start_of(day_of(event))].add(event["userId"])
    starts = sorted({start_of(first_day + timedelta(days=d)) for d in range(DAYS)})
    return [{"start": iso(midnight_ms(s)), "users": len(users[s])} for s in starts]


def expected_top(events: list[Plain], field: str, by_users: bool, first: int) -> list[Plain]:
    plays: Counter[str] = Counter()
    users: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["type"] != "song_play":
            continue
        value = event["metadata"][field]
        plays[value] += 1
        if event["userId"] is not None:
            users[value].add(event["userId"])
    rows = [(v, plays[v], len(users[v])) for v in plays]
    rows.sort(key=lambda r: (-(r[2] if by_users else r[1]), r[0]))
    return [{"value": v, "plays": p, "users": u} for v, p, u in rows[:first]]


async def record(gql: GraphQLClient, events: list[Plain]) -> None:
    for at in range(0, len(events), 200):
        chunk = events[at : at + 200]
        result = await gql.execute(RECORD, {"events": chunk})
        assert result["data"]["recordEvents"] == {"accepted": len(chunk), "rejected": []}


async def data(gql: GraphQLClient, query: str, variables: Plain) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def ms_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def same_instant(text: str, ms: int) -> bool:
    return ms_of(text) == ms


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


async def test_active_users_stickiness_and_top_items_match_plain_python(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS)
    frm, to = midnight_ms(first_day), midnight_ms(today)
    acme = generate(1, first_day, "u")
    rival = generate(2, first_day, "u") + generate(3, first_day, "r")  # same ids, and more
    other = GraphQLClient(gql.http, await make_key("rival", "ingest,read"))
    await record(gql, acme)
    await record(other, rival)
    assert 300 <= len(acme) <= 1000
    span = {"from": iso(frm), "to": iso(to)}

    registry = services_of(app).metrics.registry
    for interval in ("DAY", "WEEK", "MONTH"):
        before = backend_calls(registry, operation="count_events")
        found = (await data(gql, ACTIVE, {"interval": interval, **span}))["activeUsers"]
        assert backend_calls(registry, operation="count_events") - before == 1
        assert found["interval"] == interval
        assert same_instant(found["from"], frm)
        assert same_instant(found["to"], to)
        got = [{"start": iso(ms_of(b["start"])), "users": b["users"]} for b in found["buckets"]]
        assert got == expected_active(acme, first_day, interval), interval
        assert found["total"] == len({e["userId"] for e in acme if e["userId"]})

    plays = [e for e in acme if e["type"] == "song_play"]
    typed = await data(gql, ACTIVE, {"interval": "DAY", "type": "song_play", **span})
    assert [b["users"] for b in typed["activeUsers"]["buckets"]] == [
        b["users"] for b in expected_active(plays, first_day, "DAY")
    ]

    # stickiness: the last 30 days of the range
    window = [e for e in acme if (today - day_of(e)).days <= 30]
    daily = [
        len({e["userId"] for e in window if e["userId"] and day_of(e) == today - timedelta(d)})
        for d in range(30, 0, -1)
    ]
    monthly = len({e["userId"] for e in window if e["userId"]})
    sticky = (await data(gql, STICKY, span))["stickiness"]
    assert sticky["days"] == 30
    assert same_instant(sticky["from"], to - 30 * 86_400_000)
    assert sticky["dailyActiveUsers"] == daily
    assert sticky["monthlyActiveUsers"] == monthly
    assert sticky["averageDailyActiveUsers"] == pytest.approx(sum(daily) / 30)
    assert sticky["stickiness"] == pytest.approx(sum(daily) / 30 / monthly)

    for field in ("song_id", "artist", "country"):
        for by in ("PLAYS", "UNIQUE_USERS"):
            variables = {"field": field, "by": by, "first": 5, **span}
            top = (await data(gql, TOP, variables))["topItems"]
            assert top == expected_top(acme, field, by == "UNIQUE_USERS", 5), (field, by)
    every = await data(gql, TOP, {"field": "song_id", "by": "PLAYS", "first": 100, **span})
    assert every["topItems"] == expected_top(acme, "song_id", False, 100)
    assert len(every["topItems"]) == len(SONGS)

    # the rival tenant sees its own users only, and acme's answers above never held them
    theirs = (await data(other, ACTIVE, {"interval": "MONTH", **span}))["activeUsers"]
    assert theirs["total"] == len({e["userId"] for e in rival if e["userId"]})
    assert (
        theirs["total"]
        > (await data(gql, ACTIVE, {"interval": "MONTH", **span}))["activeUsers"]["total"]
    )


async def test_empty_range_counts_zero(gql: GraphQLClient) -> None:
    span = {"from": "2001-01-30T00:00:00Z", "to": "2001-03-02T00:00:00Z"}
    found = (await data(gql, ACTIVE, {"interval": "MONTH", **span}))["activeUsers"]
    assert [b["users"] for b in found["buckets"]] == [0, 0, 0]
    assert found["buckets"][0]["start"].startswith("2001-01-01")
    sticky = (await data(gql, STICKY, span))["stickiness"]
    assert sticky["days"] == 30
    assert sticky["monthlyActiveUsers"] == 0
    assert sticky["stickiness"] is None
    top = await data(gql, TOP, {"field": "song_id", "by": "PLAYS", "first": 3, **span})
    assert top["topItems"] == []


def error_of(body: Plain) -> Plain:
    assert body["data"] is None or None in body["data"].values(), body
    [error] = body["errors"]
    extensions: Plain = error["extensions"]
    return extensions


@pytest.mark.parametrize("first", [0, 101])
async def test_first_out_of_bounds_is_bad_user_input(gql: GraphQLClient, first: int) -> None:
    body = await gql.execute(TOP, {"field": "song_id", "by": "PLAYS", "first": first})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_bad_field_and_unknown_interval_are_refused(gql: GraphQLClient) -> None:
    body = await gql.execute(TOP, {"field": "no such key", "by": "PLAYS", "first": 3})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "field"}
    # an unknown interval in a variable is bad input; in the document, invalid GraphQL
    body = await gql.execute(ACTIVE, {"interval": "YEAR"})
    assert error_of(body)["code"] == "BAD_USER_INPUT"
    body = await gql.execute("{ activeUsers(interval: YEAR) { total } }")
    assert error_of(body)["code"] == "GRAPHQL_VALIDATION_FAILED"
    body = await gql.execute(ACTIVE, {"interval": "DAY", "from": "1990-01-01T00:00:00Z"})
    assert error_of(body) == {"code": "QUERY_TOO_COMPLEX", "field": "interval"}


async def test_top_items_refuse_a_sensitive_key(gql: GraphQLClient, make_key: MakeKey) -> None:
    admin = GraphQLClient(gql.http, await make_key("acme", "ingest,read,write,admin"))
    marked = await admin.execute('mutation { setSensitiveKeys(keys: ["email"]) }')
    assert "errors" not in marked, marked
    body = await gql.execute(TOP, {"field": "email", "by": "UNIQUE_USERS", "first": 3})
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": "field"}
