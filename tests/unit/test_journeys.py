"""Sessions and paths: the DuckDB query and the Elasticsearch walk over paged hits agree
on random events, page through them, and refuse past their bounds; an events-only
retention round invalidates the tenant's cached answers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from analytics_gateway.backends import elasticsearch_journeys
from analytics_gateway.backends.base import NextEventsQuery, SessionsQuery
from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.elasticsearch_journeys import ElasticsearchJourneys
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.domain import Event
from analytics_gateway.errors import QueryTooComplex
from analytics_gateway.privacy.retention import Retention

NOW = 1_700_000_000_000
DAY = 86_400_000
MINUTE = 60_000
START, END = NOW - 5 * DAY, NOW


def events(seed: int) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for n in range(400):
        user = None if n % 37 == 0 else f"u{rng.randrange(12)}"
        ts = NOW - rng.randrange(6 * DAY) // MINUTE * MINUTE  # ties on the minute
        kind = rng.choice(["song_play", "song_play", "search", "skip"])
        out.append(Event("acme", f"e{n:04d}", kind, user, ts, {}))
    return out


class FakeHits:
    """`_hits` over a list: the tenant's events in range, filtered, sorted, paged."""

    def __init__(self, stored: list[Event]) -> None:
        self.stored = stored
        self.pages = 0

    async def __call__(
        self,
        tenant: str,
        start: int,
        end: int,
        filters: list[dict[str, Any]],
        sort: list[Any],
        after: list[Any] | None,
        size: int,
    ) -> list[dict[str, Any]]:
        self.pages += 1
        kinds = [f["term"]["type"] for f in filters if "term" in f]
        rows = sorted(
            (e.user_id, e.timestamp_ms, e.event_id, e.type)
            for e in self.stored
            if e.tenant == tenant and start <= e.timestamp_ms < end and e.user_id is not None
            if not kinds or e.type in kinds
        )
        if after is not None:
            rows = [r for r in rows if list(r[:3]) > after]
        return [
            {"_source": {"user_id": u, "ts": ts, "type": k}, "sort": [u, ts, i]}
            for u, ts, i, k in rows[:size]
        ]


async def no_aggregate(*_: Any) -> Any:
    raise AssertionError("sessions and paths read hits only")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DuckDBStore]:
    duck = DuckDBStore(tmp_path / "a.duckdb")
    yield duck
    await duck.close()


def sessions_query(gap: int, kind: str | None, **bounds: int) -> SessionsQuery:
    limits = {"max_users": 1000, "max_events": 10_000, **bounds}
    return SessionsQuery("acme", kind, START, END, gap, "day", **limits)


def next_query(after: str, within: int, limit: int, **bounds: int) -> NextEventsQuery:
    limits = {"max_users": 1000, "max_events": 10_000, **bounds}
    return NextEventsQuery("acme", after, START, END, within, limit, **limits)


async def test_duckdb_and_paged_hits_agree(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = events(3)
    await store.write_events(stored)
    monkeypatch.setattr(elasticsearch_journeys, "PAGE", 50)
    hits = FakeHits(stored)
    search = ElasticsearchJourneys(no_aggregate, hits)
    duck = store.journeys()
    for gap, kind in ((30 * MINUTE, None), (MINUTE, "song_play"), (24 * 60 * MINUTE, "skip")):
        one = await duck.sessions(sessions_query(gap, kind))
        other = await search.sessions(sessions_query(gap, kind))
        assert one == other
        assert one.sessions > one.users > 5
    in_range = sum(1 for e in stored if START <= e.timestamp_ms < END and e.user_id is not None)
    hits.pages = 0
    for after, within, limit in (("search", 30 * MINUTE, 10), ("song_play", 3 * 60 * MINUTE, 2)):
        one_total, one_rows = await duck.next_events(next_query(after, within, limit))
        other_total, other_rows = await search.next_events(next_query(after, within, limit))
        assert (one_total, one_rows) == (other_total, other_rows)
        assert 1 < len(one_rows) <= limit
    assert hits.pages == 2 * (in_range // 50 + 1)  # every event, 50 a page


async def test_bounds_are_refused_by_both(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = events(4)
    await store.write_events(stored)
    monkeypatch.setattr(elasticsearch_journeys, "PAGE", 50)
    hits = FakeHits(stored)
    for journeys in (store.journeys(), ElasticsearchJourneys(no_aggregate, hits)):
        with pytest.raises(QueryTooComplex):
            await journeys.sessions(sessions_query(MINUTE, None, max_users=5))
        with pytest.raises(QueryTooComplex):
            await journeys.sessions(sessions_query(MINUTE, None, max_events=100))
        with pytest.raises(QueryTooComplex):
            await journeys.next_events(next_query("search", MINUTE, 5, max_events=100))
        with pytest.raises(QueryTooComplex):
            await journeys.next_events(next_query("search", MINUTE, 5, max_users=3))
        found = await journeys.sessions(sessions_query(MINUTE, None))
        assert found.users == 12
    hits.pages = 0
    with pytest.raises(QueryTooComplex):
        await ElasticsearchJourneys(no_aggregate, hits).sessions(
            sessions_query(MINUTE, None, max_events=100)
        )
    assert hits.pages == 3  # stopped reading once past the bound


async def test_an_events_only_retention_round_invalidates(
    tmp_path: Path, store: DuckDBStore
) -> None:
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    invalidated: list[str] = []

    async def invalidate(tenant: str) -> None:
        invalidated.append(tenant)

    retention = Retention(config, store, store, invalidate, lambda: NOW, batch=10)
    try:
        await store.write_events([Event("acme", "old", "t", "u", NOW - 10 * DAY, {})])
        await retention.set("acme", "7d", None)
        await retention.set("globex", "7d", None)
        rounds = await retention.run_round()
        assert {t: r.events for t, r in rounds.items()} == {"acme": 1, "globex": 0}
        assert invalidated == ["acme"]
    finally:
        await config.close()
