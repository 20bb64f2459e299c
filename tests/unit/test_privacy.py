"""Pseudonyms and retention rounds, on the embedded stores: bounded, fair, per tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from analytics_gateway.backends.duckdb_store import DuckDBStore
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.domain import Event, EventQuery
from analytics_gateway.errors import BadUserInput
from analytics_gateway.privacy.pseudonymise import Pseudonyms
from analytics_gateway.privacy.retention import Retention, RetentionPolicy

NOW = 1_700_000_000_000
DAY = 86_400_000


def test_pseudonyms_are_keyed_per_tenant_and_stable() -> None:
    one, same, other = Pseudonyms("s" * 32), Pseudonyms("s" * 32), Pseudonyms("t" * 32)
    stored = one.stored("acme", "alice")
    assert stored.startswith("p:")
    assert "alice" not in stored
    assert stored == same.stored("acme", "alice")
    assert stored != one.stored("globex", "alice")
    assert stored != other.stored("acme", "alice")
    assert one.erasable("acme", "alice") == [stored, "alice"]
    off = Pseudonyms(None)
    assert not off.enabled
    assert off.stored("acme", "alice") == "alice"
    assert off.erasable("acme", "alice") == ["alice"]


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Retention, DuckDBStore, list[str]]]:
    store = DuckDBStore(tmp_path / "a.duckdb")
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    invalidated: list[str] = []

    async def invalidate(tenant: str) -> None:
        invalidated.append(tenant)

    yield Retention(config, store, store, invalidate, lambda: NOW, batch=3), store, invalidated
    await store.close()
    await config.close()


async def count(store: DuckDBStore, tenant: str) -> int:
    return len(await store.query_events(EventQuery(tenant, None, None, None, None, 1000)))


async def test_a_round_deletes_at_most_a_batch_per_tenant_so_none_waits_for_another(
    parts: tuple[Retention, DuckDBStore, list[str]],
) -> None:
    retention, store, _ = parts
    old = NOW - 10 * DAY
    for tenant, n in (("big", 10), ("small", 2), ("kept", 2)):
        await store.write_events(
            [Event(tenant, f"{tenant}{i}", "t", "u", old + i, {}) for i in range(n)]
        )
    await store.write_events([Event("big", "fresh", "t", "u", NOW - DAY, {})])
    await retention.set("big", "7d", None)
    await retention.set("small", "7d", "30d")

    first = await retention.run_round()
    assert {t: r.events for t, r in first.items()} == {"big": 3, "small": 2}
    rounds = 1
    while (await retention.run_round())["big"].events:
        rounds += 1
    assert rounds == 4  # 10 old events, 3 a round
    assert await count(store, "big") == 1  # the fresh one
    assert await count(store, "small") == 0
    assert await count(store, "kept") == 2


async def test_policies_are_checked_kept_and_cleared(
    parts: tuple[Retention, DuckDBStore, list[str]],
) -> None:
    retention, _, invalidated = parts
    with pytest.raises(BadUserInput):
        await retention.set("acme", "30m", None)
    with pytest.raises(BadUserInput):
        await retention.set("acme", None, "forever")
    assert await retention.set("acme", "90d", "400d") == RetentionPolicy("90d", "400d")
    assert await retention.policy("acme") == RetentionPolicy("90d", "400d")
    await retention.run_round()
    assert invalidated == []  # no point was deleted: the cache stays
    await retention.set("acme", None, None)
    assert await retention.policy("acme") == RetentionPolicy()
    assert await retention.run_round() == {}
