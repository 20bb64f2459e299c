"""One contract for every EventStore: the embedded DuckDB one and Elasticsearch.

The Elasticsearch store runs against osmem-server (see tests/fixtures/elasticsearch.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics_gateway.backends.base import EventStore
from analytics_gateway.backends.calls import BackendCalls
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.elasticsearch_client import build_client, index_prefix, node_of
from analytics_gateway.backends.elasticsearch_events import ElasticsearchEventStore
from analytics_gateway.backends.factory import build_backends
from analytics_gateway.config import Settings
from analytics_gateway.domain import Event, EventCountQuery, EventQuery, Series
from analytics_gateway.errors import BackendUnavailable
from tests.conftest import backend_calls
from tests.fixtures.elasticsearch import SearchServer, search_server, unique_prefix
from tests.servers import free_port

HOUR = 3_600_000
BASE = 1_700_000_000_000 // HOUR * HOUR  # 2023-11-14T22:00Z, on an hour boundary


def ev(
    event_id: str,
    ts: int,
    type_: str = "play",
    *,
    tenant: str = "t1",
    user: str | None = "u1",
    **metadata: Any,
) -> Event:
    return Event(tenant, event_id, type_, user, ts, metadata)


def counts(series: list[Series]) -> list[tuple[dict[str, str], list[int], list[float]]]:
    return [(s.labels, s.timestamps, s.values) for s in series]


def open_store(
    kind: str, tmp_path: Path, url: str, *, timeout: float = 5.0, calls: BackendCalls | None = None
) -> EventStore:
    if kind == "duckdb":
        return DuckDBStore(tmp_path / "events.duckdb", calls=calls)
    return ElasticsearchEventStore.from_url(url, timeout_seconds=timeout, calls=calls)


@pytest.fixture(params=["duckdb", "elasticsearch"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_calls: BackendCalls
) -> AsyncIterator[EventStore]:
    url = request.getfixturevalue("elasticsearch_url") if request.param == "elasticsearch" else ""
    instance = open_store(request.param, tmp_path, url, calls=store_calls)
    yield instance
    await instance.close()


async def all_events(store: EventStore, tenant: str = "t1", **filters: Any) -> list[Event]:
    return await store.query_events(
        EventQuery(tenant, filters.get("type"), filters.get("user_id"), None, None, 1000)
    )


async def test_events_come_back_newest_first_with_their_metadata(store: EventStore) -> None:
    metadata: dict[str, Any] = {
        "song": "s1",
        "n": 3,
        "ratio": 0.25,
        "ok": True,
        "tags": ["a", "é"],
        "x": None,
    }
    await store.write_events(
        [
            ev("b", BASE + 1000, user=None),
            ev("a", BASE + 3000, **metadata),
            ev("c", BASE + 2000),
            ev("z", BASE + 1000),  # same time as "b": the higher id comes first
        ]
    )
    events = await all_events(store)
    assert [e.event_id for e in events] == ["a", "c", "z", "b"]
    assert events[0] == Event("t1", "a", "play", "u1", BASE + 3000, metadata)
    assert events[-1].user_id is None
    assert events[-1].metadata == {}


async def test_cursor_pages_cover_every_event_once(store: EventStore) -> None:
    # 30 events on 10 distinct timestamps: pages must cut through ties correctly
    written = [ev(f"e{i:02d}", BASE + (i % 10) * 1000) for i in range(30)]
    await store.write_events(written)
    expected = sorted(written, key=lambda e: (e.timestamp_ms, e.event_id), reverse=True)
    seen: list[Event] = []
    after: tuple[int, str] | None = None
    pages = 0
    while True:
        page = await store.query_events(EventQuery("t1", "play", None, None, None, 4, after))
        pages += 1
        if not page:
            break
        seen += page
        after = (page[-1].timestamp_ms, page[-1].event_id)
    assert pages == 9  # 8 pages of up to 4, then an empty one
    assert [e.event_id for e in seen] == [e.event_id for e in expected]


async def test_filters_by_type_user_and_half_open_time_range(store: EventStore) -> None:
    await store.write_events(
        [
            ev("1", BASE, user="alice"),
            ev("2", BASE + 1000, user="bob"),
            ev("3", BASE + 2000, "signup", user="alice"),
            ev("4", BASE + 3000, user="alice"),
            ev("5", BASE + 4000, user="alice"),
        ]
    )

    async def ids(**kw: Any) -> list[str]:
        query = EventQuery(
            "t1",
            kw.get("type"),
            kw.get("user"),
            kw.get("start"),
            kw.get("end"),
            kw.get("limit", 100),
        )
        return [e.event_id for e in await store.query_events(query)]

    assert await ids(type="play") == ["5", "4", "2", "1"]
    assert await ids(user="alice") == ["5", "4", "3", "1"]
    assert await ids(type="play", user="alice") == ["5", "4", "1"]
    assert await ids(start=BASE + 1000, end=BASE + 4000) == ["4", "3", "2"]  # end excluded
    assert await ids(type="play", limit=2) == ["5", "4"]
    assert await ids(type="missing") == []


async def test_counts_fall_in_epoch_aligned_step_buckets_without_empty_ones(
    store: EventStore,
) -> None:
    step = 7 * 60_000  # does not divide an hour: buckets align to the epoch, not to `start`
    times = [BASE + 5_000, BASE + 6_000, BASE + 30 * 60_000, BASE + 31 * 60_000, BASE + HOUR]
    await store.write_events([ev(f"e{i}", ts) for i, ts in enumerate(times)])
    await store.write_events([ev("other", BASE + 10_000, "signup")])
    query = EventCountQuery("t1", "play", BASE, BASE + HOUR, step)
    [result] = await store.count_events_many([query])
    aligned = [ts // step * step for ts in times[:4]]  # BASE + HOUR is outside [start, end)
    assert counts(result) == [({}, sorted(set(aligned)), [2.0, 2.0])]
    assert aligned[0] < BASE  # the first bucket starts before `start`, as DuckDB's does
    assert await store.count_events_many([]) == []


async def test_counts_grouped_by_a_metadata_key(store: EventStore) -> None:
    rows: list[tuple[int, dict[str, Any]]] = [
        (BASE, {"k": "a"}),
        (BASE + 1, {"k": "a"}),
        (BASE + HOUR, {"k": "a"}),
        (BASE, {"k": "a b"}),
        (BASE, {"k": "B"}),
        (BASE, {"k": 1.5}),
        (BASE + HOUR, {"k": True}),
        (BASE, {}),
        (BASE + HOUR, {"k": None}),  # null counts like a missing key
        (BASE + HOUR, {"other": "x"}),
        (BASE, {"k": {"nested": [1, 2.0]}}),
    ]
    await store.write_events([ev(f"e{i}", ts, **md) for i, (ts, md) in enumerate(rows)])
    query = EventCountQuery("t1", "play", BASE, BASE + 2 * HOUR, HOUR, "k")
    [result] = await store.count_events_many([query])
    assert all(s.name == "play" for s in result)
    # ordered as DuckDB orders json_object('k', value) text: '"a b"}' sorts before '"a"}'
    assert counts(result) == [
        ({"k": "1.5"}, [BASE], [1.0]),
        ({"k": "B"}, [BASE], [1.0]),
        ({"k": "a b"}, [BASE], [1.0]),
        ({"k": "a"}, [BASE, BASE + HOUR], [2.0, 1.0]),
        ({"k": "true"}, [BASE + HOUR], [1.0]),
        ({"k": '{"nested":[1,2.0]}'}, [BASE], [1.0]),
        ({}, [BASE, BASE + HOUR], [1.0, 2.0]),
    ]


async def test_several_count_queries_are_answered_in_order_in_one_call(
    store: EventStore, store_calls: BackendCalls
) -> None:
    await store.write_events(
        [
            ev("1", BASE, "play", country="DE"),
            ev("2", BASE + HOUR, "play", country="US"),
            ev("3", BASE, "signup"),
            ev("4", BASE, "play", tenant="t2"),
        ]
    )
    queries = [
        EventCountQuery("t1", "signup", BASE, BASE + 2 * HOUR, HOUR),
        EventCountQuery("t1", "play", BASE, BASE + 2 * HOUR, 2 * HOUR, "country"),
        EventCountQuery("t1", "nothing", BASE, BASE + 2 * HOUR, HOUR),
        EventCountQuery("t2", "play", BASE, BASE + 2 * HOUR, HOUR),
        EventCountQuery("t1", "play", BASE, BASE + 2 * HOUR, HOUR),
    ]
    before = backend_calls(store_calls.registry)  # DuckDB statements or Elasticsearch requests
    results = await store.count_events_many(queries)
    assert backend_calls(store_calls.registry) == before + 1
    assert [counts(r) for r in results] == [
        [({}, [BASE], [1.0])],
        [({"country": "DE"}, [BASE], [1.0]), ({"country": "US"}, [BASE], [1.0])],
        [],
        [({}, [BASE], [1.0])],
        [({}, [BASE, BASE + HOUR], [1.0, 1.0])],
    ]
    assert [s.name for r in results for s in r] == ["signup", "play", "play", "play", "play"]


async def test_tenants_never_see_each_other(store: EventStore) -> None:
    await store.write_events(
        [ev("mine", BASE, tenant="t1", country="DE"), ev("theirs", BASE, tenant="t2", country="US")]
    )
    assert [e.event_id for e in await all_events(store, "t1")] == ["mine"]
    assert [e.event_id for e in await all_events(store, "t2")] == ["theirs"]
    assert await all_events(store, "t3") == []
    query = EventCountQuery("t1", "play", BASE, BASE + HOUR, HOUR, "country")
    [result] = await store.count_events_many([query])
    assert counts(result) == [({"country": "DE"}, [BASE], [1.0])]


# -- Elasticsearch only ------------------------------------------------------


async def test_events_url_picks_the_elasticsearch_store(tmp_path: Path) -> None:
    url = "elasticsearch+https://user:p%40ss@search.example:9243/prod_analytics"
    assert node_of(url) == ("https://search.example:9243", ("user", "p@ss"))
    assert node_of("elasticsearch://[::1]") == ("http://[::1]:9200", None)
    assert index_prefix("elasticsearch://h:1") == "analytics"
    assert index_prefix(url) == "prod_analytics"
    for bad in ("elasticsearch://h/Has-Dash", "elasticsearch://h/a/b", "elasticsearch:///p"):
        with pytest.raises(ValueError, match="ANALYTICS_EVENTS_URL"):
            ElasticsearchEventStore.from_url(bad, timeout_seconds=1)
    backends = build_backends(
        Settings.from_env({}, data_dir=tmp_path, events_url=url, events_retention_days=30)
    )
    try:
        assert isinstance(backends.events, ElasticsearchEventStore)
    finally:
        await backends.close()


async def test_group_labels_match_the_embedded_store_for_every_json_value(
    tmp_path: Path, elasticsearch_url: str
) -> None:
    values: list[Any] = ["x", "", 'q"uote', "back\\slash", "new\nline", "\u0001", "日本", "😀"]
    values += [0, -7, 2**62, 1.0, 0.1, 1e20, 1e21, 1.5e-7, 1e-6, -0.0, 123456.789, 5e-324]
    values += [True, False, None, [], {}, [1, "a", None], {"b": {"c": [1.25, "é\t"]}}]
    keys = ["k", "dotted.key", 'qu"ote', "", "sp ace"]
    events = [
        ev(f"e{i:03d}", BASE + i, **{key: value})
        for i, (key, value) in enumerate((k, v) for k in keys for v in values)
    ]
    stores = [open_store(kind, tmp_path, elasticsearch_url) for kind in ("duckdb", "elasticsearch")]
    try:
        answers = []
        for store in stores:
            await store.write_events(events)
            queries = [EventCountQuery("t1", "play", BASE, BASE + HOUR, 60_000, k) for k in keys]
            answers.append([counts(r) for r in await store.count_events_many(queries)])
        embedded, elasticsearch = answers
        assert len(embedded[0]) == len([v for v in values if v is not None]) + 1
        assert elasticsearch == embedded
    finally:
        for store in stores:
            await store.close()


async def test_writes_wait_for_refresh_so_the_next_read_sees_them(
    elasticsearch_url: str, caplog: pytest.LogCaptureFixture, store_calls: BackendCalls
) -> None:
    # osmem-server shows writes at once whatever the policy: check the request asks for it
    store = ElasticsearchEventStore.from_url(
        elasticsearch_url, timeout_seconds=5, calls=store_calls
    )
    try:
        with caplog.at_level(logging.INFO, logger="elastic_transport.transport"):
            await store.write_events([ev("1", BASE)])
        bulk = [r.getMessage() for r in caplog.records if "/_bulk" in r.getMessage()]
        assert len(bulk) == 1
        assert "/_bulk?refresh=wait_for " in bulk[0]
        assert backend_calls(store_calls.registry, "elasticsearch", "write_events") == 1
    finally:
        await store.close()


async def test_unreachable_server_is_backend_unavailable() -> None:
    store = ElasticsearchEventStore.from_url(
        f"elasticsearch://127.0.0.1:{free_port()}/{unique_prefix()}", timeout_seconds=2
    )
    try:
        with pytest.raises(BackendUnavailable):
            await store.write_events([ev("1", BASE)])
        with pytest.raises(BackendUnavailable):
            await all_events(store)
        with pytest.raises(BackendUnavailable):
            await store.count_events_many([EventCountQuery("t1", "play", BASE, BASE + 1, 1)])
    finally:
        await store.close()


async def test_stalled_server_times_out_then_recovers(tmp_path: Path) -> None:
    with search_server(tmp_path / "osmem") as server:
        store = ElasticsearchEventStore.from_url(
            server.events_url(unique_prefix()), timeout_seconds=0.5
        )
        try:
            await store.write_events([ev("1", BASE)])
            server.pause()
            started = time.monotonic()
            with pytest.raises(BackendUnavailable, match="timed out"):
                await all_events(store)
            assert time.monotonic() - started < 2
            server.resume()
            assert [e.event_id for e in await all_events(store)] == ["1"]
        finally:
            await store.close()


def _retention_store(server: SearchServer, prefix: str, now: int, days: int) -> Any:
    client = build_client(server.events_url(prefix), timeout_seconds=5)
    return ElasticsearchEventStore(client, prefix=prefix, retention_days=days, clock=lambda: now)


def _ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


async def _indices(server: SearchServer, prefix: str) -> list[str]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/_cat/indices/{prefix}-events-*?format=json")
    return sorted(row["index"] for row in response.json())


async def test_retention_hides_expired_events_and_drops_expired_months(
    elasticsearch_server: SearchServer,
) -> None:
    now = _ms(2024, 3, 20)
    prefix = unique_prefix()
    keep_all = _retention_store(elasticsearch_server, prefix, now, 0)
    thirty_days = _retention_store(elasticsearch_server, prefix, now, 30)
    try:
        await keep_all.write_events(
            [
                ev("jan", _ms(2023, 1, 5)),
                ev("feb-9", _ms(2024, 2, 9)),  # 40 days old, in a month that has not expired
                ev("mar-10", _ms(2024, 3, 10)),
            ]
        )
        assert await _indices(elasticsearch_server, prefix) == [
            f"{prefix}-events-2023.01",
            f"{prefix}-events-2024.02",
            f"{prefix}-events-2024.03",
        ]
        await thirty_days.write_events([ev("old", _ms(2024, 1, 1)), ev("mar-1", _ms(2024, 3, 1))])
        assert [e.event_id for e in await all_events(thirty_days)] == ["mar-10", "mar-1"]
        query = EventCountQuery("t1", "play", _ms(2023, 1, 1), now, 24 * HOUR)
        [result] = await thirty_days.count_events_many([query])
        assert sum(result[0].values) == 2
        # the janitor runs as soon as the store is ready: the 2023 month goes
        for _ in range(50):
            if len(await _indices(elasticsearch_server, prefix)) == 2:
                break
            await asyncio.sleep(0.05)
        assert await _indices(elasticsearch_server, prefix) == [
            f"{prefix}-events-2024.02",
            f"{prefix}-events-2024.03",
        ]
        assert await thirty_days.purge_expired() == []
        assert [e.event_id for e in await all_events(keep_all)] == ["mar-10", "mar-1", "feb-9"]
    finally:
        await keep_all.close()
        await thirty_days.close()


async def test_a_frozen_server_opens_the_breaker_and_a_thawed_one_closes_it(
    tmp_path: Path,
) -> None:
    with search_server(tmp_path / "osmem") as server:
        store = ElasticsearchEventStore.from_url(
            server.events_url(unique_prefix()), timeout_seconds=0.3
        )
        try:
            await store.write_events([ev("1", BASE)])
            server.pause()
            try:
                for _ in range(3):
                    with pytest.raises(BackendUnavailable):
                        await all_events(store)
                assert store.breaker.is_open
                started = time.monotonic()
                with pytest.raises(BackendUnavailable, match="not asked again"):
                    await all_events(store)
                assert time.monotonic() - started < 0.2
            finally:
                server.resume()
            deadline = time.monotonic() + 30
            while True:
                try:
                    found = await all_events(store)
                    break
                except BackendUnavailable:
                    assert time.monotonic() < deadline, "the breaker never closed"
                    await asyncio.sleep(0.2)
            assert [e.event_id for e in found] == ["1"]
            assert not store.breaker.is_open
        finally:
            await store.close()
