"""Retention cohorts and funnels end to end: generated events in, the answers checked
against the same figures computed in plain Python here.

Runs on the embedded store, and on Elasticsearch (osmem-server) with
`--backends production`.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette

from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls

DAY_MS = 86_400_000
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
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
STEPS = ["sign_up", "search", "subscribe"]


def reads(app: Starlette) -> int:
    """Event reads so far: one per answer here (DuckDB: one query; Elasticsearch: one page)."""
    services: Services = app.state.gateway.services
    registry = services.metrics.registry
    return sum(backend_calls(registry, operation=op) for op in ("count_events", "query_events"))


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def monday_weeks_ago(weeks: int) -> int:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7 * weeks)
    return int(datetime(monday.year, monday.month, monday.day, tzinfo=UTC).timestamp() * 1000)


def generate(start_ms: int, seed: int) -> list[dict[str, Any]]:
    """30 users first seen over 4 weeks, each active on fewer days as weeks go by; some
    `search` events beside `song_play`, and events before the range."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for u in range(30):
        first_day = rng.randrange(0, 28)
        for day in range(first_day, 35):
            weeks_on = (day - first_day) // 7
            if day != first_day and rng.random() > 0.8 / (1 + weeks_on):
                continue
            for _ in range(rng.randint(1, 3)):
                ts = start_ms + day * DAY_MS + rng.randrange(DAY_MS)
                kind = "song_play" if rng.random() < 0.8 else "search"
                events.append({"type": kind, "userId": f"u{u}", "timestamp": iso(ts)})
        if u % 5 == 0:  # seen before the range: a different first period inside it
            ts = start_ms - rng.randrange(1, 10 * DAY_MS)
            events.append({"type": "song_play", "userId": f"u{u}", "timestamp": iso(ts)})
    return events


def period_of(ms: int, week: bool) -> date:
    day = datetime.fromtimestamp(ms / 1000, UTC).date()
    return day - timedelta(days=day.weekday()) if week else day


def expected(
    events: list[dict[str, Any]], kind: str | None, week: bool, periods: int, start: int, end: int
) -> list[dict[str, Any]]:
    """The matrix the slow, obvious way."""
    seen: dict[str, set[date]] = defaultdict(set)
    for e in events:
        ms = int(datetime.fromisoformat(e["timestamp"]).timestamp() * 1000)
        if start <= ms < end and (kind is None or e["type"] == kind):
            seen[e["userId"]].add(period_of(ms, week))
    step = timedelta(days=7 if week else 1)
    rows: dict[date, list[int]] = {}
    for active in seen.values():
        first = min(active)
        row = rows.setdefault(first, [0] * periods)
        for k in range(periods):
            if first + k * step in active:
                row[k] += 1
    return [
        {
            "start": f"{first.isoformat()}T00:00:00+00:00",
            "size": row[0],
            "retained": row,
            "rates": [n / row[0] for n in row],
        }
        for first, row in sorted(rows.items())
    ]


async def record(gql: GraphQLClient, events: list[dict[str, Any]]) -> None:
    result = await gql.execute(RECORD, {"events": events})
    assert result["data"]["recordEvents"] == {"accepted": len(events), "rejected": []}


def normal(cohorts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Starts as UTC instants in one spelling."""
    return [
        {**c, "start": datetime.fromisoformat(c["start"]).astimezone(UTC).isoformat()}
        for c in cohorts
    ]


async def test_retention_matches_the_matrix_computed_in_python(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    start = monday_weeks_ago(5)
    end = start + 35 * DAY_MS
    events = generate(start, seed=18)
    await record(gql, events)
    window = {"from": iso(start), "to": iso(end)}
    for kind, cohort, periods in (
        (None, "WEEK", 8),
        ("song_play", "WEEK", 5),
        ("song_play", "DAY", 10),
        ("search", "DAY", 3),
    ):
        week = cohort == "WEEK"
        before = reads(app)
        result = await gql.execute(
            RETENTION, {"type": kind, "cohort": cohort, "periods": periods, **window}
        )
        assert reads(app) - before == 1
        assert "errors" not in result, result
        want = expected(events, kind, week, periods, start, end)
        assert normal(result["data"]["retentionCohorts"]) == want, (kind, cohort)
        assert sum(c["size"] for c in want) > 5
    # another tenant sees none of it
    other = GraphQLClient(gql.http, await make_key("beta"))
    result = await other.execute(RETENTION, {"cohort": "WEEK", "periods": 8, **window})
    assert result["data"]["retentionCohorts"] == []


async def test_bad_retention_arguments_are_refused(gql: GraphQLClient) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    for variables, field in (
        ({"periods": 0}, "periods"),
        ({"periods": 53}, "periods"),
        ({"periods": 8, "type": "not a type!"}, "eventType"),
    ):
        result = await gql.execute(RETENTION, {"cohort": "WEEK", **window, **variables})
        (error,) = result["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
    wide = {"from": "1990-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    result = await gql.execute(RETENTION, {"cohort": "DAY", "periods": 8, **wide})
    assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def funnel_events(start_ms: int, seed: int) -> list[dict[str, Any]]:
    """40 users signing up, most searching within minutes, fewer subscribing; some too late,
    some out of order, some signing up twice; `ref` has 23 values, `plan` is sometimes missing."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []

    def add(kind: str, user: int, ms: int, **metadata: Any) -> None:
        events.append(
            {"type": kind, "userId": f"f{user}", "timestamp": iso(ms), "metadata": metadata}
        )

    for u in range(40):
        t0 = start_ms + rng.randrange(0, 2 * DAY_MS) // 1000 * 1000
        plan = rng.choice(["free", "trial", None])
        add("sign_up", u, t0, ref=f"r{u % 23}", **({"plan": plan} if plan else {}))
        if u % 7 == 0:
            add("sign_up", u, t0 + 50_000, ref="again", plan="paid")
        if u % 9 == 0:
            add("subscribe", u, t0 + 5_000)  # before any search: not step 3
            add("search", u, t0 - 5_000)  # before the sign-up: not step 2
        if rng.random() < 0.8:
            search = t0 + rng.randrange(1, 1800) * 1000
            if u % 10 == 3:
                search = t0 + 2 * 3_600_000  # outside the hour
            add("search", u, search)
            add("search", u, search + 30_000)
            if rng.random() < 0.6:
                add("subscribe", u, search + rng.randrange(1, 1800) * 1000)
    return events


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def share(part: int, whole: int) -> float:
    """0 when nobody reached the step it is a share of."""
    return part / whole if whole else 0.0


def expected_steps(per_user: list[list[int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, step in enumerate(STEPS):
        reached = [t for t in per_user if len(t) > i]
        out.append(
            {
                "eventType": step,
                "users": len(reached),
                "fromPrevious": None if i == 0 else share(len(reached), out[-1]["users"]),
                "fromFirst": share(len(reached), len(per_user)),
                "medianSeconds": None
                if i == 0
                else median([(t[i] - t[i - 1]) / 1000 for t in reached]),
            }
        )
    return out


def expected_funnel(
    events: list[dict[str, Any]], within_ms: int, key: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    timed: dict[str, list[tuple[int, str, Any]]] = defaultdict(list)
    for e in events:
        ms = int(datetime.fromisoformat(e["timestamp"]).timestamp() * 1000)
        timed[e["userId"]].append((ms, e["type"], (e.get("metadata") or {}).get(key or "")))
    users: list[tuple[Any, list[int]]] = []
    for evs in timed.values():
        evs.sort(key=lambda x: x[0])
        starts = [x for x in evs if x[1] == STEPS[0]]
        if not starts:
            continue
        times = [starts[0][0]]
        for step in STEPS[1:]:
            later = [ms for ms, kind, _ in evs if kind == step and ms > times[-1]]
            if not later or later[0] - times[0] > within_ms:
                break
            times.append(later[0])
        users.append((starts[0][2], times))
    overall = expected_steps([t for _, t in users])
    if key is None:
        return overall, None
    groups: dict[Any, list[list[int]]] = defaultdict(list)
    for value, times in users:
        groups[value].append(times)
    order = sorted(groups, key=lambda v: (-len(groups[v]), v is None, v or ""))
    breakdown = [{"value": v, "steps": expected_steps(groups[v])} for v in order[:20]]
    if order[20:]:
        rest = [t for v in order[20:] for t in groups[v]]
        breakdown.append({"value": "other", "steps": expected_steps(rest)})
    return overall, breakdown


async def test_funnel_matches_the_steps_computed_in_python(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    start = int(time.time() * 1000) // DAY_MS * DAY_MS - 3 * DAY_MS
    events = funnel_events(start, seed=18)
    await record(gql, events)
    window = {"from": iso(start - DAY_MS), "to": iso(start + 3 * DAY_MS)}
    for within, within_ms, key in (
        ("1h", 3_600_000, None),
        ("1h", 3_600_000, "plan"),
        ("10m", 600_000, "ref"),
        ("3h", 3 * 3_600_000, None),
    ):
        before = reads(app)
        result = await gql.execute(
            FUNNEL, {"steps": STEPS, "within": within, "breakdown": key, **window}
        )
        assert reads(app) - before == 1
        assert "errors" not in result, result
        steps, breakdown = expected_funnel(events, within_ms, key)
        assert result["data"]["funnel"] == {"steps": steps, "breakdown": breakdown}, (within, key)
        if within == "1h":  # drop-off at each step, none to nothing
            assert steps[0]["users"] == 40
            assert 0 < steps[2]["users"] < steps[1]["users"] < 40
        if key == "ref":
            assert breakdown is not None
            assert breakdown[-1]["value"] == "other"
    other = GraphQLClient(gql.http, await make_key("beta"))
    result = await other.execute(FUNNEL, {"steps": STEPS, "within": "1h", **window})
    assert result["data"]["funnel"]["steps"][0]["users"] == 0


async def test_bad_funnel_arguments_are_refused(gql: GraphQLClient) -> None:
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    for variables, field in (
        ({"steps": ["sign_up"], "within": "1d"}, "steps"),
        ({"steps": ["a"] * 11, "within": "1d"}, "steps"),
        ({"steps": STEPS, "within": "soon"}, "within"),
        ({"steps": STEPS, "within": "0s"}, "within"),
        ({"steps": STEPS, "within": "1d", "breakdown": "a b"}, "breakdown"),
    ):
        result = await gql.execute(FUNNEL, {**window, **variables})
        (error,) = result["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, error
