"""Benchmark 12: retention and funnel over 10 million events, against one hand-written query.

Embedded side: music-platform events (plays, skips, searches, sign-ups,
subscriptions of 500,000 users over 12 weeks) are generated with numpy and
bulk-inserted into the tenant's events table of a `DuckDBStore`, through the store's
own connection, so its queries see them. The gateway side is what a
`retentionCohorts` / `funnel` request runs past its checks: the store's
behaviour call (`DuckDBBehaviour`, on the store's pool) and the shaping in
`behaviour/retention.py` and `behaviour/funnels.py`. The baseline is the same
answer as ONE DuckDB statement written by hand for this question, run on the
same database. Both answers are checked equal before anything is timed; then
the sides alternate and the medians are compared.

Elasticsearch side: a smaller data set of the same shape goes to a real
`osmem-server` through the gateway's event store; each query's `_search`
requests are counted (the store's `gateway_backend_calls_total`) and set
against what the data says they must be, and the answers against DuckDB's on
the same events.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from analytics_gateway.backends.base import FunnelQuery, RetentionQuery
from analytics_gateway.backends.calls import METRIC_NAME, BackendCalls
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.duckdb_tables import events_table, on_events
from analytics_gateway.backends.elasticsearch_behaviour import PAGE
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from analytics_gateway.behaviour import funnels
from analytics_gateway.behaviour.retention import Cohort, cohorts
from analytics_gateway.domain import Event
from bench.common import TENANT, Comparison, ServerProcess, free_port, say, section

T = TypeVar("T")

DAY_MS = 86_400_000
START_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z, a Monday
WEEKS = 12
END_MS = START_MS + WEEKS * 7 * DAY_MS
PERIODS = 12
STEPS = ("sign_up", "search", "subscribe")
WITHIN_MS = 7 * DAY_MS
BREAKDOWN = "ref"
TYPES = ("song_play", "search", "sign_up", "subscribe", "skip")
REFS = [f"campaign{i}" for i in range(30)]
GENRES = ("pop", "rock", "hip-hop", "jazz", "classical", "electronic", "folk", "latin")
# metadata by event type: a play's genre, a sign-up's referrer (some have none)
METADATA = (
    [orjson.dumps({"genre": g}).decode() for g in GENRES]
    + [orjson.dumps({"ref": r, "plan": "free"}).decode() for r in REFS]
    + ['{"plan":"free"}', "{}"]
)


@dataclass(frozen=True)
class BehaviourOptions:
    events: int = 10_000_000
    users: int = 500_000
    repeats: int = 3
    es_events: int = 200_000


# -- data ----------------------------------------------------------------------


def generate(events: int, users: int, seed: int = 7) -> pa.Table:
    """Exactly `events` events in [START_MS, END_MS): columns type, user_id, ts, metadata
    (dictionary-encoded, as few Python objects as there are distinct values).

    A quarter of the users were there before the range (active from its first day);
    the others sign up in it. Of those, 70% search within about an hour and 35% of
    these subscribe about two days later: the funnel's drop-off. All other events
    (plays 75%, skips 13%, searches 10%, subscriptions 2%) belong to users drawn by
    a heavy-tailed engagement, each at an exponentially distributed time after the
    user's first event (longer for engaged users): retention decays week by week.
    """
    rng = np.random.default_rng(seed)
    days = WEEKS * 7
    new = rng.random(users) < 0.75
    first_day = np.where(new, rng.integers(0, days, users), 0)
    first_ms = START_MS + first_day * DAY_MS + rng.integers(0, DAY_MS, users)
    engagement = rng.pareto(1.5, users) + 0.3
    signed = np.flatnonzero(new)
    search_gap = rng.exponential(3_600_000, signed.size).astype(np.int64) + 1000
    searched = rng.random(signed.size) < 0.7
    subscribe_gap = rng.exponential(2 * DAY_MS, signed.size).astype(np.int64) + 1000
    subscribed = searched & (rng.random(signed.size) < 0.35)
    t0 = first_ms[signed]
    funnel_users = np.concatenate([signed, signed[searched], signed[subscribed]])
    funnel_ts = np.concatenate(
        [
            t0,
            t0[searched] + search_gap[searched],
            t0[subscribed] + search_gap[subscribed] + subscribe_gap[subscribed],
        ]
    )
    funnel_type = np.repeat(
        np.array([2, 1, 3]), [signed.size, int(searched.sum()), int(subscribed.sum())]
    )
    inside = funnel_ts < END_MS
    funnel_users, funnel_ts, funnel_type = (
        funnel_users[inside],
        funnel_ts[inside],
        funnel_type[inside],
    )
    rest = events - funnel_users.size
    owner = rng.choice(users, rest, p=engagement / engagement.sum())
    scale = 10.0 * DAY_MS * (1 + engagement[owner])
    span = (END_MS - first_ms[owner]).astype(np.float64)
    # exponential delay after the user's first event, truncated at the range's end
    delay = -scale * np.log1p(rng.random(rest) * np.expm1(-span / scale))
    ts = np.minimum(first_ms[owner] + delay.astype(np.int64), END_MS - 1)
    kind = rng.choice(np.array([0, 4, 1, 3]), rest, p=[0.75, 0.13, 0.10, 0.02])
    user = np.concatenate([funnel_users, owner])
    ts = np.concatenate([funnel_ts, ts])
    kind = np.concatenate([funnel_type, kind])
    order = np.argsort(ts, kind="stable")  # stored in arrival order, as ingest does
    user, ts, kind = user[order], ts[order], kind[order]
    genre = rng.integers(0, len(GENRES), ts.size)
    ref = len(GENRES) + np.minimum(rng.zipf(1.4, ts.size) - 1, len(REFS))  # last: no ref
    meta = np.where(kind == 2, ref, np.where(kind == 0, genre, len(METADATA) - 1))
    names = pa.array([f"user{u:07d}" for u in range(users)])
    return pa.table(
        {
            "type": pa.DictionaryArray.from_arrays(pa.array(kind, pa.int32()), pa.array(TYPES)),
            "user_id": pa.DictionaryArray.from_arrays(pa.array(user, pa.int32()), names),
            "ts": pa.array(ts, pa.int64()),
            "metadata": pa.DictionaryArray.from_arrays(
                pa.array(meta, pa.int32()), pa.array(METADATA)
            ),
        }
    )


EVENTS = events_table(TENANT)  # the tenant's events table in the store's file


def _insert(table: pa.Table) -> Callable[[duckdb.DuckDBPyConnection], list[tuple[Any, ...]]]:
    def write(cur: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
        cur.register("incoming_events", table)
        try:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {EVENTS} AS SELECT * FROM events LIMIT 0")
            cur.execute(
                f"INSERT INTO {EVENTS} SELECT $tenant, 'e' || (row_number() OVER ())::VARCHAR, "
                "type::VARCHAR, user_id::VARCHAR, ts, metadata::VARCHAR FROM incoming_events",
                {"tenant": TENANT},
            )
        finally:
            cur.unregister("incoming_events")
        return []

    return write


async def bulk_load(store: DuckDBStore, table: pa.Table) -> None:
    """One `INSERT ... SELECT` from the Arrow table, on the store's own pool and
    connection (what `write_events` does per batch, without a Python object per event)."""
    await store._run("write_events", _insert(table))
    store._event_tables.add(EVENTS)  # the store's reads now name the tenant's table


def as_events(table: pa.Table) -> list[Event]:
    metadata = [orjson.loads(m) for m in METADATA]
    meta_index = table.column("metadata").combine_chunks().indices.to_numpy()
    return [
        Event(TENANT, f"e{i}", kind, user, int(ts), metadata[m])
        for i, (kind, user, ts, m) in enumerate(
            zip(
                table.column("type").to_pylist(),
                table.column("user_id").to_pylist(),
                table.column("ts").to_numpy().tolist(),
                meta_index.tolist(),
                strict=True,
            )
        )
    ]


# -- the two sides ---------------------------------------------------------------


def retention_query(max_users: int) -> RetentionQuery:
    return RetentionQuery(TENANT, None, START_MS, END_MS, True, PERIODS, max_users)


def funnel_query(max_users: int) -> FunnelQuery:
    return FunnelQuery(
        TENANT, STEPS, START_MS, END_MS, WITHIN_MS, BREAKDOWN, max_users, funnels.MAX_BREAKDOWN
    )


FunnelAnswer = tuple[list[funnels.FunnelStep], list[funnels.FunnelGroup]]


async def gateway_retention(store: Any, max_users: int) -> list[Cohort]:
    """What `retentionCohorts(cohort: WEEK, periods: 12)` runs past its checks."""
    counts = await store.behaviour().retention(retention_query(max_users))
    return cohorts(counts, PERIODS)


async def gateway_funnel(store: Any, max_users: int) -> FunnelAnswer:
    """What `funnel(steps: [...], within: "7d", breakdown: "ref")` runs past its checks."""
    tally = await store.behaviour().funnel(funnel_query(max_users))
    return funnels.figures(STEPS, tally.overall), funnels.breakdown(STEPS, tally)


# Written by hand for this question: week numbers from Monday, each user's first
# week, the (cohort, offset) counts, then one row per cohort with its list.
RETENTION_SQL = on_events(
    """
WITH active AS (
    SELECT user_id, (ts // 86400000 + 3) // 7 AS week
    FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
    GROUP BY ALL
), first_week AS (
    SELECT user_id, min(week) AS cohort FROM active GROUP BY user_id
), cells AS (
    SELECT f.cohort, a.week - f.cohort AS k, count(*) AS n
    FROM active a JOIN first_week f USING (user_id)
    WHERE a.week - f.cohort < $periods
    GROUP BY ALL
), matrix AS (
    SELECT c.cohort, list(coalesce(cells.n, 0) ORDER BY k.k) AS retained
    FROM (SELECT DISTINCT cohort FROM cells) c
    CROSS JOIN range($periods) k(k)
    LEFT JOIN cells ON cells.cohort = c.cohort AND cells.k = k.k
    GROUP BY c.cohort
)
SELECT (cohort * 7 - 3) * 86400000 AS start_ms, retained,
       list_transform(retained, lambda n: n / retained[1]) AS rates
FROM matrix ORDER BY cohort
""",
    EVENTS,
)

# Each user's first sign-up (and its referrer), first search after it within 7 days,
# first subscription after that within 7 days of the sign-up; referrers ranked by
# users, all past the 20th as "other"; per group and overall: users per step and
# the median delay of each step.
FUNNEL_SQL = on_events(
    """
WITH ev AS (
    SELECT user_id, type, ts, metadata FROM __events__
    WHERE tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL
      AND type IN ('sign_up', 'search', 'subscribe')
), signed AS (
    SELECT user_id, min(ts) AS t0, json_extract_string(arg_min(metadata, ts), '$.ref') AS ref
    FROM ev WHERE type = 'sign_up' GROUP BY user_id
), searched AS (
    SELECT s.user_id, min(e.ts) AS t1 FROM signed s JOIN ev e
      ON e.user_id = s.user_id AND e.type = 'search' AND e.ts > s.t0 AND e.ts <= s.t0 + $within
    GROUP BY s.user_id
), subscribed AS (
    SELECT s.user_id, min(e.ts) AS t2 FROM signed s JOIN searched f USING (user_id) JOIN ev e
      ON e.user_id = s.user_id AND e.type = 'subscribe' AND e.ts > f.t1
         AND e.ts <= s.t0 + $within
    GROUP BY s.user_id
), journeys AS (
    SELECT s.ref, s.t0, f.t1, b.t2
    FROM signed s LEFT JOIN searched f USING (user_id) LEFT JOIN subscribed b USING (user_id)
), ranked AS (
    SELECT ref, row_number() OVER (ORDER BY count(*) DESC, ref IS NULL, ref) AS r
    FROM journeys GROUP BY ref
)
SELECT grouping(grp) = 1 AS overall, grp, any_value(label) AS label,
       count(*) AS step1, count(t1) AS step2, count(t2) AS step3,
       median((t1 - t0) / 1000) AS median2, median((t2 - t1) / 1000) AS median3
FROM (
    SELECT j.*, least(r.r, 21) AS grp, CASE WHEN r.r <= 20 THEN j.ref ELSE 'other' END AS label
    FROM journeys j JOIN ranked r ON j.ref IS NOT DISTINCT FROM r.ref
)
GROUP BY GROUPING SETS ((), (grp))
ORDER BY overall DESC, grp
""",
    EVENTS,
)


def _params(**extra: Any) -> dict[str, Any]:
    return {"tenant": TENANT, "start": START_MS, "end": END_MS, **extra}


def baseline_retention(cur: duckdb.DuckDBPyConnection) -> list[Cohort]:
    rows = cur.execute(RETENTION_SQL, _params(periods=PERIODS)).fetchall()
    return [Cohort(int(s), int(r[0]), [int(n) for n in r], list(rates)) for s, r, rates in rows]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _steps(users: list[int], medians: list[float | None]) -> list[funnels.FunnelStep]:
    out: list[funnels.FunnelStep] = []
    for i, step in enumerate(STEPS):
        out.append(
            funnels.FunnelStep(
                event_type=step,
                users=users[i],
                from_previous=None
                if i == 0
                else (users[i] / users[i - 1] if users[i - 1] else 0.0),
                from_first=users[i] / users[0] if users[0] else 0.0,
                median_seconds=medians[i],
            )
        )
    return out


def baseline_funnel(cur: duckdb.DuckDBPyConnection) -> FunnelAnswer:
    rows = cur.execute(FUNNEL_SQL, _params(within=WITHIN_MS)).fetchall()
    overall: list[funnels.FunnelStep] = []
    groups: list[funnels.FunnelGroup] = []
    for is_overall, _, label, s1, s2, s3, m2, m3 in rows:
        steps = _steps([int(s1), int(s2), int(s3)], [None, m2, m3])
        if is_overall:
            overall = steps
        else:
            groups.append(funnels.FunnelGroup(label, steps))
    return overall, groups


def same_funnel(a: FunnelAnswer, b: FunnelAnswer) -> bool:
    """Equal, medians to 1e-12 (the baseline's `median` divides once, Python twice)."""

    def steps_equal(x: list[funnels.FunnelStep], y: list[funnels.FunnelStep]) -> bool:
        return len(x) == len(y) and all(
            (p.event_type, p.users, p.from_previous, p.from_first)
            == (q.event_type, q.users, q.from_previous, q.from_first)
            and (
                p.median_seconds == q.median_seconds
                or (
                    p.median_seconds is not None
                    and q.median_seconds is not None
                    and math.isclose(p.median_seconds, q.median_seconds, rel_tol=1e-12)
                )
            )
            for p, q in zip(x, y, strict=True)
        )

    return (
        steps_equal(a[0], b[0])
        and len(a[1]) == len(b[1])
        and all(
            g.value == h.value and steps_equal(g.steps, h.steps)
            for g, h in zip(a[1], b[1], strict=True)
        )
    )


# -- measuring -------------------------------------------------------------------


def python_peak_mb(runner: asyncio.Runner, coro: Coroutine[Any, Any, Any]) -> float:
    """Peak of the Python heap while `coro` runs (DuckDB's own memory is not in it): what
    a call holds in Python objects, such as a row per user."""
    tracemalloc.start()
    try:
        runner.run(coro)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def interleaved(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds per run of each side; the side going first rotates each round."""
    order = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeats):
        for name in order[i % len(order) :] + order[: i % len(order)]:
            started = time.perf_counter()
            sides[name]()
            samples[name].append(time.perf_counter() - started)
    return samples


def _seconds(samples: list[float]) -> str:
    return "/".join(f"{x:.2f}" for x in samples) + " s"


def _embedded(options: BehaviourOptions, workdir: Path) -> list[Comparison]:
    started = time.perf_counter()
    table = generate(options.events, options.users)
    say(
        f"generated {table.num_rows:,} events of {options.users:,} users over {WEEKS} weeks "
        f"in {time.perf_counter() - started:.1f} s"
    )
    path = workdir / "behaviour" / "events.duckdb"
    path.unlink(missing_ok=True)
    # the bench's queries are far above the API's 5 s store timeout on 2 cores
    store = DuckDBStore(path, timeout_seconds=3600)
    max_users = options.users  # the API refuses past 200,000 users; the store call does not
    rows: list[Comparison] = []
    with asyncio.Runner() as runner:
        try:
            started = time.perf_counter()
            runner.run(bulk_load(store, table))
            say(f"bulk insert into the store's events table: {time.perf_counter() - started:.1f} s")
            del table
            cur = duckdb.connect(str(path))  # the same database instance as the store's
            counts = cur.execute(
                f"SELECT type, count(*), count(DISTINCT user_id) FROM {EVENTS} "
                "GROUP BY type ORDER BY type"
            ).fetchall()
            say("  " + ", ".join(f"{t} {n:,} ({u:,} users)" for t, n, u in counts))

            def run_gateway(make: Callable[[], Awaitable[T]]) -> Callable[[], T]:
                async def call() -> T:
                    return await make()

                return lambda: runner.run(call())

            questions: list[tuple[str, Callable[[], Any], Callable[[], Any], Any]] = [
                (
                    "retention",
                    run_gateway(lambda: gateway_retention(store, max_users)),
                    lambda: baseline_retention(cur),
                    lambda a, b: a == b,
                ),
                (
                    "funnel",
                    run_gateway(lambda: gateway_funnel(store, max_users)),
                    lambda: baseline_funnel(cur),
                    same_funnel,
                ),
            ]
            for name, gateway, baseline, same in questions:
                got, want = gateway(), baseline()  # also the warm-up
                if not same(got, want):
                    raise RuntimeError(f"{name}: gateway and hand-written answers differ")
                if name == "retention":
                    sizes = ", ".join(str(c.size) for c in got)
                    say(f"retention: same {len(got)} weekly cohorts (sizes {sizes})")
                    peak = python_peak_mb(runner, gateway_retention(store, max_users))
                else:
                    steps = " -> ".join(f"{s.users:,}" for s in got[0])
                    say(f"funnel: same answer, {steps} users, {len(got[1])} referrer groups")
                    peak = python_peak_mb(runner, gateway_funnel(store, max_users))
                say(f"  {name}: Python heap peak during the gateway call {peak:.2f} MB")
                samples = interleaved({"gateway": gateway, "baseline": baseline}, options.repeats)
                g = statistics.median(samples["gateway"]) * 1000
                b = statistics.median(samples["baseline"]) * 1000
                say(
                    f"  {name}: gateway median {g:,.0f} ms, hand-written {b:,.0f} ms "
                    f"({options.repeats} runs each, alternating; gateway "
                    f"{_seconds(samples['gateway'])}, hand-written "
                    f"{_seconds(samples['baseline'])})"
                )
                rows.append(
                    Comparison(
                        f"behaviour: {name}, {options.events / 1e6:g}M events",
                        "ms",
                        g,
                        b,
                        higher_is_better=False,
                        target=1.3,
                        notes=[f"Python heap peak of the gateway call {peak:.2f} MB"],
                    )
                )
            cur.close()
        finally:
            runner.run(store.close())
    return rows


def _searches(calls: BackendCalls) -> int:
    """`_search` requests so far: the behaviour reads count as `count_events` (aggregations)
    and `query_events` (pages of hits), one per request."""
    total = 0.0
    for operation in ("count_events", "query_events"):
        value = calls.registry.get_sample_value(
            METRIC_NAME, {"backend": "elasticsearch", "operation": operation}
        )
        total += value or 0.0
    return int(total)


def _elasticsearch(options: BehaviourOptions, workdir: Path) -> list[Comparison]:
    import osmem_server  # type: ignore[import-untyped]  # a test extra, as for the tests

    users = max(options.es_events // 20, 1)
    table = generate(options.es_events, users, seed=11)
    events = as_events(table)
    port = free_port()
    server = ServerProcess(
        "osmem-server",
        [
            osmem_server.resolve_binary(),
            "--addr",
            f"127.0.0.1:{port}",
            "--no-ja",
            "--no-stdin-watch",
            "--parent-pid",
            str(os.getpid()),
        ],
        log=workdir / "logs" / "osmem.log",
        ready_port=port,
    )
    calls = BackendCalls()
    small = workdir / "behaviour" / "small.duckdb"
    small.unlink(missing_ok=True)
    rows: list[Comparison] = []
    with server, asyncio.Runner() as runner:
        es = ElasticsearchEventStore.from_url(
            f"elasticsearch://127.0.0.1:{port}/bench", timeout_seconds=120, calls=calls
        )
        duck = DuckDBStore(small, timeout_seconds=600)
        try:
            started = time.perf_counter()
            for i in range(0, len(events), 20_000):
                runner.run(es.write_events(events[i : i + 20_000]))
            say(
                f"Elasticsearch (osmem-server): {len(events):,} events of {users:,} users "
                f"stored through the event store in {time.perf_counter() - started:.1f} s"
            )
            runner.run(bulk_load(duck, table))
            cur = duckdb.connect(str(small))
            where = "tenant = $tenant AND ts >= $start AND ts < $end AND user_id IS NOT NULL"
            (user_weeks,) = cur.execute(
                f"SELECT count(DISTINCT (user_id, (ts // 86400000 + 3) // 7)) FROM {EVENTS} "
                f"WHERE {where}",
                _params(),
            ).fetchone() or (0,)
            (step_events,) = cur.execute(
                f"SELECT count(*) FROM {EVENTS} WHERE {where} AND type IN ("
                "'sign_up', 'search', 'subscribe')",
                _params(),
            ).fetchone() or (0,)
            cur.close()
            questions = (
                (
                    "retention",
                    gateway_retention,
                    int(user_weeks),
                    "composite aggregation pages of (user, ISO week) buckets",
                ),
                (
                    "funnel",
                    gateway_funnel,
                    int(step_events),
                    "pages of the steps' events sorted by (user, time)",
                ),
            )
            for name, ask, items, what in questions:
                before = _searches(calls)
                started = time.perf_counter()
                answer = runner.run(ask(es, users))
                took = time.perf_counter() - started
                requests = _searches(calls) - before
                if answer != runner.run(ask(duck, users)):
                    raise RuntimeError(f"{name}: Elasticsearch and DuckDB answers differ")
                expected = items // PAGE + 1
                say(
                    f"  {name}: {requests} `_search` requests in {took * 1000:,.0f} ms, "
                    f"same answer as DuckDB; {what}: {items:,} of them, {PAGE:,} a page "
                    f"-> {expected}"
                )
                if requests != expected:
                    raise RuntimeError(f"{name}: {requests} requests, {expected} expected")
                rows.append(
                    Comparison(
                        f"behaviour on Elasticsearch: {name} `_search` requests",
                        "req",
                        requests,
                        1,
                        higher_is_better=False,
                        target=None,
                        notes=[
                            f"{len(events):,} events; {items:,} {what.split(' of ')[-1]}, "
                            f"{PAGE:,} a request; DuckDB: 1 statement"
                        ],
                    )
                )
        finally:
            runner.run(duck.close())
            runner.run(es.close())
    return rows


def run(options: BehaviourOptions, workdir: Path) -> list[Comparison]:
    section(
        f"12. behaviour: retention and funnel over {options.events:,} events "
        f"(embedded), and their Elasticsearch requests over {options.es_events:,}"
    )
    return _embedded(options, workdir) + _elasticsearch(options, workdir)
