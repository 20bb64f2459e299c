"""One contract for every MetricStore: embedded DuckDB and InfluxDB (a real `influxd`).

Expected answers are computed in the test from the points written, by a small
reference implementation of the embedded store's rules (buckets aligned to the
step since the epoch, or one bucket stamped with `start`; series ordered by
their labels). A last test writes the same random points to both stores and
requires the same answer to many queries from each.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import orjson
import pytest

from analytics_gateway.backends.base import MetricStore
from analytics_gateway.backends.calls import BackendCalls
from analytics_gateway.backends.duckdb_store import DuckDBStore, batch_fingerprint
from analytics_gateway.backends.influxdb_store import InfluxDBStore
from analytics_gateway.domain import (
    Aggregation,
    LabelValuesQuery,
    MetricPoint,
    MetricQuery,
    PointBatch,
    Series,
    canonical_labels,
)
from analytics_gateway.errors import BackendUnavailable, QueryTooComplex
from analytics_gateway.ingest_buffer import encode_points, points_of
from tests.conftest import backend_calls
from tests.fixtures.influxdb import InfluxServer, influx_server

MAX_POINTS = 500
T0 = 1_699_999_920_000  # a multiple of every step used here
TENANT = "acme"
Labels = dict[str, str]
STORE_TIMEOUT_S = 60.0


def open_store(
    kind: str,
    url_or_path: str,
    max_points: int = MAX_POINTS,
    calls: BackendCalls | None = None,
) -> MetricStore:
    # answers are what these tests check, not timeouts (see the stalled-server test): a
    # busy machine may take many seconds over hundreds of queries in one call
    if kind == "duckdb":
        return DuckDBStore(
            url_or_path, timeout_seconds=STORE_TIMEOUT_S, max_points=max_points, calls=calls
        )
    return InfluxDBStore.from_url(
        url_or_path, timeout_seconds=STORE_TIMEOUT_S, max_points=max_points, calls=calls
    )


@pytest.fixture(params=["duckdb", "influxdb"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_calls: BackendCalls
) -> AsyncIterator[MetricStore]:
    if request.param == "duckdb":
        instance = open_store("duckdb", str(tmp_path / "metrics.duckdb"), calls=store_calls)
    else:
        url = request.getfixturevalue("influxdb_url")
        instance = open_store("influxdb", url, calls=store_calls)
    yield instance
    await instance.close()


async def write(
    store: MetricStore, points: Sequence[tuple[str, Labels, int, float]], *, tenant: str = TENANT
) -> None:
    batch = PointBatch.of(tenant, [MetricPoint(tenant, n, lb, t, v) for n, lb, t, v in points])
    await store.write_batch(batch)


async def one(store: MetricStore, query: MetricQuery) -> list[Series]:
    [answer] = await store.query_many([query])
    return answer


def q(name: str = "cpu", start: int = T0, end: int = T0 + 60_000, **kw: object) -> MetricQuery:
    labels = kw.pop("labels", {})
    assert isinstance(labels, dict)
    return MetricQuery(TENANT, name, tuple(sorted(labels.items())), start, end, **kw)  # type: ignore[arg-type]


def shape(series: list[Series]) -> list[tuple[Labels, list[int], list[float]]]:
    return [(s.labels, s.timestamps, s.values) for s in series]


# -- a reference for the expected answers -------------------------------------


def quantile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    d = position - low
    return ordered[low] if low == high else ordered[low] * (1 - d) + ordered[high] * d


def reduce(aggregation: Aggregation, points: list[tuple[int, float]]) -> float:
    values = [v for _, v in points]
    if aggregation is Aggregation.RATE:
        (t_first, v_first), (t_last, v_last) = min(points), max(points)
        return (v_last - v_first) / ((t_last - t_first) / 1000) if t_last > t_first else math.nan
    reducers: dict[Aggregation, Callable[[list[float]], float]] = {
        Aggregation.AVG: lambda v: sum(v) / len(v),
        Aggregation.SUM: sum,
        Aggregation.MIN: min,
        Aggregation.MAX: max,
        Aggregation.COUNT: lambda v: float(len(v)),
        Aggregation.LAST: lambda v: max(points)[1],
        Aggregation.P50: lambda v: quantile_cont(v, 0.5),
        Aggregation.P95: lambda v: quantile_cont(v, 0.95),
        Aggregation.P99: lambda v: quantile_cont(v, 0.99),
    }
    return reducers[aggregation](values)


def expected(
    points: Sequence[tuple[str, Labels, int, float]],
    query: MetricQuery,
) -> list[tuple[Labels, list[int], list[float]]]:
    """The embedded store's answer to `query`, computed the slow and obvious way."""
    filters = dict(query.labels)
    groups: dict[str, tuple[Labels, list[tuple[int, float]]]] = {}
    for name, labels, ts, value in points:
        if name != query.name or not query.start_ms <= ts < query.end_ms:
            continue
        if any(labels.get(k) != v for k, v in filters.items()):
            continue
        if query.group_by is None:
            key_labels = labels
            order = canonical_labels(labels)
        else:  # ordered as DuckDB's json_object text: missing labels are null
            key_labels = {k: labels[k] for k in query.group_by if k in labels}
            order = json.dumps({k: labels.get(k) for k in query.group_by}, ensure_ascii=False)
        groups.setdefault(order, (dict(sorted(key_labels.items())), []))[1].append((ts, value))
    out = []
    for _, (labels, pts) in sorted(groups.items()):
        pts.sort()
        if query.aggregation is None and query.step_ms is None and query.group_by is None:
            out.append((labels, [t for t, _ in pts], [v for _, v in pts]))
            continue
        aggregation = query.aggregation or Aggregation.AVG
        step = query.step_ms or (query.end_ms - query.start_ms)
        origin = 0 if query.step_ms else query.start_ms
        buckets: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for t, v in pts:
            buckets[origin + (t - origin) // step * step].append((t, v))
        rows = [(b, reduce(aggregation, bp)) for b, bp in sorted(buckets.items())]
        rows = [(b, v) for b, v in rows if not math.isnan(v)]
        out.append((labels, [b for b, _ in rows], [v for _, v in rows]))
    return out


def assert_same(
    actual: list[tuple[Labels, list[int], list[float]]],
    wanted: list[tuple[Labels, list[int], list[float]]],
) -> None:
    """Equal labels and timestamps; values equal up to float summation order."""
    assert [(lb, ts) for lb, ts, _ in actual] == [(lb, ts) for lb, ts, _ in wanted]
    for (_, _, values), (_, _, want) in zip(actual, wanted, strict=True):
        assert values == pytest.approx(want, rel=1e-12, abs=1e-12)


# -- data --------------------------------------------------------------------

HOSTS = [("a", "eu"), ("b", "eu"), ("c", "us")]


def host_points() -> list[tuple[str, Labels, int, float]]:
    """Three series of 30 points, 2 s apart, with uneven values."""
    rng = random.Random(11)
    return [
        ("cpu", {"host": h, "region": r}, T0 + i * 2000 + 1, float(rng.randint(0, 400)) / 4)
        for h, r in HOSTS
        for i in range(30)
    ]


# -- writes and raw reads ----------------------------------------------------


async def test_written_points_come_back_raw_per_series_in_label_order(store: MetricStore) -> None:
    points = host_points()
    await write(store, list(reversed(points)))
    answer = shape(await one(store, q()))
    assert [lb for lb, _, _ in answer] == [{"host": h, "region": r} for h, r in HOSTS]
    assert answer == expected(points, q())
    assert sum(len(ts) for _, ts, _ in answer) == len(points)


async def test_the_embedded_store_names_series_after_a_reopen(tmp_path: Path) -> None:
    """Reads return series ids and the store maps them to labels: the map is
    rebuilt from the file, and series created after the reopen join it."""
    path = str(tmp_path / "metrics.duckdb")
    points = host_points()
    first = open_store("duckdb", path)
    await write(first, list(reversed(points)))
    await first.close()
    reopened = open_store("duckdb", path)
    try:
        later = [("cpu", {"host": "0", "region": "eu"}, T0 + 5, 1.5)]
        await write(reopened, later)
        for query in (q(), q(step_ms=10_000, aggregation=Aggregation.MAX)):
            answer = shape(await one(reopened, query))
            assert answer == expected([*points, *later], query)
            assert answer[0][0] == {"host": "0", "region": "eu"}  # label order, not id order
    finally:
        await reopened.close()


async def test_embedded_raw_reads_hand_over_numpy_columns_not_lists(tmp_path: Path) -> None:
    """A big raw read as lists of Python numbers made every young-generation garbage
    collection walk millions of items (30-90 ms stalls of every tenant's requests under
    a query flood); numpy columns are not walked, and are encoded as they are."""
    store = open_store("duckdb", str(tmp_path / "metrics.duckdb"))
    try:
        points = host_points()
        await write(store, points)
        answer = await one(store, q())
        for series in answer:
            timestamps, values = series.columns()
            assert isinstance(timestamps, np.ndarray)
            assert timestamps.dtype == np.int64
            assert isinstance(values, np.ndarray)
            assert values.dtype == np.float64
            assert not gc.is_tracked(timestamps)
            assert not gc.is_tracked(values)
        assert shape(answer) == expected(points, q())  # and as lists once asked for
    finally:
        await store.close()


async def test_time_range_includes_start_and_excludes_end(store: MetricStore) -> None:
    await write(store, [("m", {}, T0 + i, float(i)) for i in range(10)])
    [series] = await one(store, q("m", start=T0 + 3, end=T0 + 7))
    assert series.timestamps == [T0 + 3, T0 + 4, T0 + 5, T0 + 6]
    assert series.values == [3.0, 4.0, 5.0, 6.0]
    assert await one(store, q("m", start=T0 + 10, end=T0 + 20)) == []


async def test_points_with_the_same_timestamp_are_all_kept(store: MetricStore) -> None:
    await write(store, [("hits", {"page": "/"}, T0, 1.0), ("hits", {"page": "/"}, T0, 2.0)])
    await write(store, [("hits", {"page": "/"}, T0, 4.0)])
    [series] = await one(store, q("hits", aggregation=Aggregation.SUM))
    assert series.values == [7.0]
    [counted] = await one(store, q("hits", aggregation=Aggregation.COUNT))
    assert counted.values == [3.0]


async def test_a_batch_written_again_is_kept_once(store: MetricStore) -> None:
    """A redrive from the buffer, a timed-out write applied later or a client's retry
    overwrites the first write; distinct points in one millisecond all stay."""
    batch = [("hits", {"page": "/"}, T0, 1.0), ("hits", {"page": "/"}, T0, 2.0)]
    batch += [("hits", {"page": "/"}, T0, 1.0), ("hits", {"page": "/x"}, T0 + 5, 3.0)]
    for _ in range(3):
        await write(store, batch)
    await write(store, [("hits", {"page": "/"}, T0, 4.0)])
    counted = await one(store, q("hits", aggregation=Aggregation.COUNT))
    assert [(s.labels, s.values) for s in counted] == [
        ({"page": "/"}, [4.0]),
        ({"page": "/x"}, [1.0]),
    ]
    [summed] = await one(store, q("hits", labels={"page": "/"}, aggregation=Aggregation.SUM))
    assert summed.values == [8.0]


async def test_values_round_trip_exactly(store: MetricStore) -> None:
    values = [0.1 + 0.2, 1 / 3, -2.5e-10, 1e20, 5e-324, 1.7976931348623157e308, -0.0, 42.0]
    await write(store, [("exact", {}, T0 + i, v) for i, v in enumerate(values)])
    [series] = await one(store, q("exact"))
    assert series.values == values


# -- aggregations ------------------------------------------------------------


@pytest.mark.parametrize("aggregation", list(Aggregation))
async def test_each_aggregation_over_step_buckets(
    store: MetricStore, aggregation: Aggregation
) -> None:
    points = host_points()
    await write(store, points)
    query = q(start=T0 + 5_000, end=T0 + 55_000, step_ms=15_000, aggregation=aggregation)
    answer = shape(await one(store, query))
    assert answer[0][1][0] == T0  # the first bucket starts before `start`, at a step multiple
    assert_same(answer, expected(points, query))


@pytest.mark.parametrize("aggregation", [Aggregation.MAX, Aggregation.LAST, Aggregation.P95])
async def test_aggregation_without_step_is_one_bucket_stamped_with_start(
    store: MetricStore, aggregation: Aggregation
) -> None:
    points = host_points()
    await write(store, points)
    query = q(start=T0 + 999, end=T0 + 30_000, aggregation=aggregation)
    answer = shape(await one(store, query))
    assert [ts for _, ts, _ in answer] == [[T0 + 999]] * 3
    assert_same(answer, expected(points, query))


async def test_rate_of_a_single_point_bucket_is_left_out_but_the_series_stays(
    store: MetricStore,
) -> None:
    eth, lo = {"if": "eth0"}, {"if": "lo"}
    await write(store, [("bytes", eth, T0, 10.0), ("bytes", eth, T0 + 20_000, 30.0)])
    await write(store, [("bytes", eth, T0 + 25_000, 40.0), ("bytes", lo, T0 + 1, 5.0)])
    query = q("bytes", step_ms=10_000, aggregation=Aggregation.RATE)
    assert shape(await one(store, query)) == [
        (eth, [T0 + 20_000], [2.0]),  # 10 more over 5 s; the T0 bucket has one point
        (lo, [], []),
    ]


# -- group_by and label filters ----------------------------------------------


@pytest.mark.parametrize(
    "group_by", [("region",), (), ("host", "region"), ("missing",), ("region", "zone")]
)
async def test_group_by_merges_series_by_the_given_labels(
    store: MetricStore, group_by: tuple[str, ...]
) -> None:
    points = [*host_points(), ("cpu", {"host": "d", "zone": "z1"}, T0 + 7, 12.5)]
    await write(store, points)
    query = q(step_ms=20_000, aggregation=Aggregation.SUM, group_by=group_by)
    answer = shape(await one(store, query))
    assert_same(answer, expected(points, query))
    if group_by == ("region",):
        assert [lb for lb, _, _ in answer] == [{"region": "eu"}, {"region": "us"}, {}]


async def test_group_by_without_aggregation_averages_the_whole_range(store: MetricStore) -> None:
    points = host_points()
    await write(store, points)
    query = q(group_by=("region",))
    answer = shape(await one(store, query))
    assert [ts for _, ts, _ in answer] == [[T0], [T0]]
    assert_same(answer, expected(points, query))


async def test_label_filters_match_exactly_and_all_must_hold(store: MetricStore) -> None:
    points = host_points()
    await write(store, points)
    for labels in (
        {"region": "eu"},
        {"host": "c", "region": "us"},
        {"host": "c", "region": "eu"},
        {"host": "A"},
        {"missing": "x"},
        {"@tenant": TENANT},
        {"bad key": "a"},
    ):
        query = q(labels=labels)
        assert shape(await one(store, query)) == expected(points, query), labels


TRICKY = [
    "web 1,a=b",
    "",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "%%x",
    "%41",
    "ünïcødé ☃",
    "trailing\\",
    "'single'",
    "time",
    "@tenant",
]


async def test_any_label_value_and_reserved_label_names_round_trip(store: MetricStore) -> None:
    points = [
        ("odd", {"v": v, "time": "t", "value": v[:3]}, T0 + i, float(i))
        for i, v in enumerate(TRICKY)
    ]
    await write(store, points)
    answer = shape(await one(store, q("odd")))
    assert answer == expected(points, q("odd"))
    assert await store.label_values(TENANT, "odd", "v") == sorted(TRICKY)
    assert await store.label_values(TENANT, "odd", "time") == ["t"]
    for i, value in enumerate(TRICKY):
        [series] = await one(store, q("odd", labels={"v": value}))
        assert series.values == [float(i)], value
    grouped = shape(
        await one(store, q("odd", group_by=("time", "value"), aggregation=Aggregation.COUNT))
    )
    assert grouped == expected(
        points, q("odd", group_by=("time", "value"), aggregation=Aggregation.COUNT)
    )


# -- several queries, names, label values -------------------------------------


async def test_query_many_answers_every_query_in_order_in_one_call(
    store: MetricStore, store_calls: BackendCalls
) -> None:
    points = [*host_points(), ("mem", {"host": "a"}, T0 + 1, 5.0)]
    await write(store, points)
    queries = [
        q("mem"),
        q(labels={"host": "b"}, step_ms=10_000, aggregation=Aggregation.MAX),
        q("nothing"),
        q(group_by=(), aggregation=Aggregation.COUNT),
        q(labels={"no such": "label"}),
        q(step_ms=30_000, aggregation=Aggregation.P99, group_by=("region",)),
    ]
    before = backend_calls(store_calls.registry)  # DuckDB statements or InfluxDB requests
    answers = await store.query_many(queries)
    assert backend_calls(store_calls.registry) - before == 1
    assert [shape(a) for a in answers[:3]] == [expected(points, x) for x in queries[:3]]
    for answer, query in zip(answers[3:], queries[3:], strict=True):
        assert_same(shape(answer), expected(points, query))
    assert all(s.name == x.name for a, x in zip(answers, queries, strict=True) for s in a)


async def test_metric_names_are_sorted_and_filtered_by_prefix(store: MetricStore) -> None:
    names = ["song_plays", "revenue", "song.skips", "so", "api:latency-ms"]
    await write(store, [(n, {"k": "v"}, T0, 1.0) for n in names])
    assert await store.metric_names(TENANT, None) == sorted(names)
    assert await store.metric_names(TENANT, "") == sorted(names)
    assert await store.metric_names(TENANT, "song") == ["song.skips", "song_plays"]
    assert await store.metric_names(TENANT, "song.") == ["song.skips"]
    assert await store.metric_names(TENANT, "so") == ["so", "song.skips", "song_plays"]
    assert await store.metric_names(TENANT, "api:latency-") == ["api:latency-ms"]
    assert await store.metric_names(TENANT, "s.*") == []
    assert await store.metric_names(TENANT, "x") == []


async def test_label_values_are_distinct_sorted_and_per_metric(store: MetricStore) -> None:
    await write(store, [*host_points(), ("mem", {"host": "z"}, T0, 1.0)])
    assert await store.label_values(TENANT, "cpu", "host") == ["a", "b", "c"]
    assert await store.label_values(TENANT, "cpu", "region") == ["eu", "us"]
    assert await store.label_values(TENANT, "mem", "host") == ["z"]
    assert await store.label_values(TENANT, "cpu", "missing") == []
    assert await store.label_values(TENANT, "nothing", "host") == []
    assert await store.label_values(TENANT, "cpu", "@tenant") == []


async def test_label_values_of_many_queries_are_one_call(
    store: MetricStore, store_calls: BackendCalls
) -> None:
    await write(store, [*host_points(), ("mem", {"host": "z"}, T0, 1.0)])
    await write(store, [("cpu", {"host": "hidden"}, T0, 1.0)], tenant="other")
    queries = [
        LabelValuesQuery(TENANT, "cpu", "host"),
        LabelValuesQuery(TENANT, "cpu", "region"),
        LabelValuesQuery(TENANT, "mem", "host"),
        LabelValuesQuery(TENANT, "cpu", "missing"),
        LabelValuesQuery(TENANT, "cpu", "@tenant"),
        LabelValuesQuery("other", "cpu", "host"),
    ]
    before = backend_calls(store_calls.registry)
    answers = await store.label_values_many(queries)
    assert backend_calls(store_calls.registry) - before == 1
    assert answers == [["a", "b", "c"], ["eu", "us"], ["z"], [], [], ["hidden"]]
    assert answers == [await store.label_values(q.tenant, q.metric, q.label) for q in queries]
    assert await store.label_values_many([]) == []


# -- tenants and limits ------------------------------------------------------


async def test_tenants_never_see_each_others_points_names_or_labels(store: MetricStore) -> None:
    await write(store, [("secret", {"owner": "a"}, T0, 1.0)], tenant="tenant-a")
    await write(store, [("public", {"owner": "b"}, T0, 2.0)], tenant="tenant-b")
    seen_by_b = [
        MetricQuery("tenant-b", "secret", (), T0, T0 + 1000),
        MetricQuery("tenant-b", "secret", (), T0, T0 + 1000, aggregation=Aggregation.COUNT),
        MetricQuery("tenant-b", "secret", (), T0, T0 + 1000, group_by=()),
        MetricQuery("tenant-b", "secret", (("@tenant", "tenant-a"),), T0, T0 + 1000),
        MetricQuery("tenant-b", "public", (), T0, T0 + 1000, group_by=("@tenant",)),
    ]
    answers = await store.query_many(seen_by_b)
    assert answers[:4] == [[], [], [], []]
    assert shape(answers[4]) == [({}, [T0], [2.0])]
    assert await store.metric_names("tenant-b", None) == ["public"]
    assert await store.metric_names("tenant-b", "sec") == []
    assert await store.label_values("tenant-b", "secret", "owner") == []
    assert await store.label_values("tenant-a", "secret", "owner") == ["a"]
    assert await store.metric_names("tenant", None) == []


async def test_more_points_than_the_limit_is_too_complex(store: MetricStore) -> None:
    await write(store, [("big", {"s": str(i % 2)}, T0 + i, 1.0) for i in range(MAX_POINTS + 1)])
    with pytest.raises(QueryTooComplex):
        await one(store, q("big"))
    with pytest.raises(QueryTooComplex):  # the limit holds over all queries of a call
        await store.query_many([q("big", labels={"s": "0"}), q("big", labels={"s": "1"})])
    [total] = await one(store, q("big", group_by=(), aggregation=Aggregation.COUNT))
    assert total.values == [MAX_POINTS + 1.0]


# -- the same answers from both stores ---------------------------------------


async def test_both_stores_give_the_same_answers(tmp_path: Path, influxdb_url: str) -> None:
    rng = random.Random(5)
    points = [
        (
            "latency",
            {"host": f"h{rng.randint(0, 3)}", "dc": rng.choice(["x", "y", "z y"])},
            T0 + rng.randint(0, 120_000),
            round(rng.uniform(-50, 500), rng.randint(0, 4)),
        )
        for _ in range(400)
    ]
    stores = [
        open_store("duckdb", str(tmp_path / "m.duckdb"), 1_000_000),
        open_store("influxdb", influxdb_url, 1_000_000),
    ]
    queries = [
        q(
            "latency",
            start=T0 + s,
            end=T0 + 120_001,
            step_ms=step,
            aggregation=agg,
            group_by=gb,
            labels=lb,
        )
        for s in (0, 7_777)
        for step in (None, 10_000, 45_000)
        for agg in [None, *Aggregation]
        for gb in (None, (), ("dc",), ("dc", "host"))
        for lb in ({}, {"dc": "z y"})
    ]
    try:
        for s in stores:
            await write(s, points[:200])
            await write(s, points[200:])
        duck, influx = await asyncio.gather(*(s.query_many(queries) for s in stores))
    finally:
        for s in stores:
            await s.close()
    assert len(duck) == len(queries)
    for query, d, i in zip(queries, duck, influx, strict=True):
        assert_same(shape(i), shape(d))
        assert [s.name for s in i] == [s.name for s in d], query


# -- InfluxDB only: outages and credentials ----------------------------------


@pytest.fixture
def own_influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """A server of the test's own, which it may stop or pause."""
    with influx_server(tmp_path / "influx") as server:
        yield server


async def test_influxdb_down_or_stalled_is_backend_unavailable(own_influx: InfluxServer) -> None:
    # long enough that a healthy server answers on a busy machine; a paused one never does
    timeout = 3.0
    store = InfluxDBStore.from_url(own_influx.url("db"), timeout_seconds=timeout)
    try:
        await write(store, [("m", {}, T0, 1.0)])
        own_influx.pause()
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            await one(store, q("m"))
        with pytest.raises(BackendUnavailable):  # may still be stored once the server wakes
            await write(store, [("other", {}, T0 + 1, 2.0)])
        # each call gave up at its timeout, not when the server came back (it never did)
        assert time.monotonic() - started < 10 * timeout
        own_influx.resume()
        assert shape(await one(store, q("m"))) == [({}, [T0], [1.0])]
        own_influx.stop()
        with pytest.raises(BackendUnavailable):
            await store.metric_names(TENANT, None)
        with pytest.raises(BackendUnavailable):
            await write(store, [("m", {}, T0 + 1, 2.0)])
    finally:
        await store.close()


async def test_influxdb_credentials_from_the_url(tmp_path: Path) -> None:
    with influx_server(tmp_path / "influx", auth=True) as server:
        server.query("CREATE USER admin WITH PASSWORD 's3cret:/@' WITH ALL PRIVILEGES")
        good = InfluxDBStore.from_url(
            f"influxdb://admin:s3cret%3A%2F%40@127.0.0.1:{server.http_port}/secured"
        )
        bad = InfluxDBStore.from_url(f"influxdb://admin:nope@127.0.0.1:{server.http_port}/secured")
        try:
            await write(good, [("m", {"k": "v"}, T0, 1.0)])
            assert await good.label_values(TENANT, "m", "k") == ["v"]
            with pytest.raises(BackendUnavailable, match="credentials"):
                await write(bad, [("m", {}, T0, 1.0)])
            with pytest.raises(BackendUnavailable, match="credentials"):
                await bad.metric_names(TENANT, None)
        finally:
            await good.close()
            await bad.close()


async def test_influxdb_retention_policy_from_the_url(
    influxdb_server: InfluxServer, influxdb_url: str
) -> None:
    database = influxdb_url.rsplit("/", 1)[1]
    influxdb_server.query(f'CREATE DATABASE "{database}"')
    influxdb_server.query(
        f'CREATE RETENTION POLICY "short" ON "{database}" DURATION 2h REPLICATION 1'
    )
    store = InfluxDBStore.from_url(influxdb_url + "?rp=short")
    now = int(time.time() * 1000)
    try:
        await write(store, [("m", {"k": "v"}, now - 1000, 3.0)])
        [series] = await one(store, MetricQuery(TENANT, "m", (), now - 60_000, now + 1))
        assert series.values == [3.0]
        assert await store.label_values(TENANT, "m", "k") == ["v"]
    finally:
        await store.close()

    def count(policy: str) -> list[object]:
        body = influxdb_server.query(f'SELECT count("value") FROM "{database}"."{policy}"."m"')
        return [s["values"][0][1] for s in body.json()["results"][0].get("series", [])]

    assert count("short") == [1]
    assert count("autogen") == []


def test_a_batch_has_the_same_fingerprint_after_the_ingest_buffer() -> None:
    """The buffer stores a batch as lists and rebuilds it: still the same batch."""
    points = [MetricPoint(TENANT, "m", {"h": f"h{i % 3}"}, T0 + i, i / 3) for i in range(50)]
    batch = PointBatch.of(TENANT, points)
    rebuilt = points_of(orjson.loads(encode_points(batch)))
    same = batch_fingerprint(TENANT, rebuilt.columns())
    assert batch_fingerprint(TENANT, batch.columns()) == same
    moved = PointBatch.of(TENANT, [*points[1:], points[0]])
    assert batch_fingerprint(TENANT, moved.columns()) != same
    assert batch_fingerprint("other", batch.columns()) != same


async def test_a_light_read_is_counted_and_read_in_one_go_a_heavier_one_only_counted(
    store: MetricStore,
) -> None:
    await write(
        store,
        [("cpu", {"host": f"h{i}"}, T0 + i * 1000, float(i)) for i in range(3)]
        + [("cpu", {"host": "other"}, T0, 9.0), ("mem", {}, T0, 1.0)],
    )
    await write(store, [("cpu", {"host": "h0"}, T0, 5.0)], tenant="someone-else")
    queries = [q("cpu"), q("cpu", labels={"host": "h1"}), q("nothing")]
    assert await store.series_count_many(queries) == [4, 1, 0]

    seen: list[list[int]] = []

    def light(counts: list[int]) -> bool:
        seen.append(counts)
        return True

    counts, answers = await store.read_if_light(queries, light)
    assert counts == [4, 1, 0]
    assert seen == [[4, 1, 0]]
    assert answers is not None
    assert [shape(a) for a in answers] == [shape(a) for a in await store.query_many(queries)]
    assert shape(answers[1]) == [({"host": "h1"}, [T0 + 1000], [1.0])]

    assert await store.read_if_light(queries, lambda c: False) == ([4, 1, 0], None)
