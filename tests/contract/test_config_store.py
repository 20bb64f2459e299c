"""One contract for every ConfigStore: embedded SQLite and Redis (a real server)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from analytics_gateway.auth import authenticate, create_key, hash_key, parse_scopes
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.backends.redis_config import RedisConfigStore
from analytics_gateway.config import Settings
from analytics_gateway.domain import ApiKeyRecord, Scope
from analytics_gateway.errors import BackendUnavailable, Unauthenticated
from tests.conftest import make_settings
from tests.servers import RedisServer


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(tmp_path / "data")
    server: RedisServer = request.getfixturevalue("redis")
    return make_settings(tmp_path / "data", config_url=server.url, backend_timeout_seconds=0.5)


@pytest.fixture
async def store(store_settings: Settings) -> AsyncIterator[ConfigStore]:
    instance = build_config_store(store_settings)
    yield instance
    await instance.close()


def _record(key_id: str, tenant: str, created_at_ms: int, revoked: bool = False) -> ApiKeyRecord:
    scopes = frozenset({Scope.READ})
    return ApiKeyRecord(key_id, tenant, scopes, created_at_ms, revoked=revoked)


async def test_created_key_is_found_by_its_hash_with_every_field(store: ConfigStore) -> None:
    record = ApiKeyRecord(
        key_id="k1",
        tenant="acme",
        scopes=frozenset({Scope.READ, Scope.ADMIN}),
        created_at_ms=1_700_000_000_123,
        description="ci: déploiement",
    )
    await store.create_key(record, hash_key("secret-1"))
    assert await store.key_by_hash(hash_key("secret-1")) == record
    assert await store.key_by_hash(hash_key("secret-2")) is None


async def test_list_keys_is_oldest_first_and_filtered_by_tenant(store: ConfigStore) -> None:
    await store.create_key(_record("k3", "acme", 3_000), "h3")
    await store.create_key(_record("k1", "acme", 1_000), "h1")
    await store.create_key(_record("k2", "globex", 2_000), "h2")
    await store.create_key(_record("k4", "acme:x", 4_000), "h4")
    await store.create_key(_record("k5", "acme%3Ax", 5_000), "h5")

    assert [r.key_id for r in await store.list_keys()] == ["k1", "k2", "k3", "k4", "k5"]
    assert [r.key_id for r in await store.list_keys("acme")] == ["k1", "k3"]
    assert [r.key_id for r in await store.list_keys("globex")] == ["k2"]
    assert [r.key_id for r in await store.list_keys("acme:x")] == ["k4"]
    assert [r.key_id for r in await store.list_keys("acme%3Ax")] == ["k5"]
    assert await store.list_keys("initech") == []


async def test_revoked_key_fails_at_once_and_others_keep_working(
    store: ConfigStore, store_settings: Settings
) -> None:
    revoked, revoked_key = await create_key(store, "acme", parse_scopes("read"))
    kept, kept_key = await create_key(store, "acme", parse_scopes("ingest,read,write"))
    assert (await authenticate(store, revoked_key)).key_id == revoked.key_id

    other = build_config_store(store_settings)  # another replica, or the CLI
    try:
        assert await other.revoke_key(revoked.key_id) is True
    finally:
        await other.close()

    with pytest.raises(Unauthenticated):
        await authenticate(store, revoked_key)
    principal = await authenticate(store, kept_key)
    assert (principal.key_id, principal.tenant) == (kept.key_id, "acme")
    found = await store.key_by_hash(hash_key(revoked_key))
    assert found is not None
    assert found.revoked
    assert {r.key_id: r.revoked for r in await store.list_keys("acme")} == {
        revoked.key_id: True,
        kept.key_id: False,
    }


async def test_revoke_is_true_again_for_revoked_and_false_for_unknown(store: ConfigStore) -> None:
    await store.create_key(_record("k1", "acme", 1_000), "h1")
    assert await store.revoke_key("k1") is True
    assert await store.revoke_key("k1") is True
    assert await store.revoke_key("nope") is False
    assert [r.revoked for r in await store.list_keys()] == [True]


async def test_a_record_created_revoked_stays_revoked(store: ConfigStore) -> None:
    await store.create_key(_record("k1", "acme", 1_000, revoked=True), "h1")
    found = await store.key_by_hash("h1")
    assert found is not None
    assert found.revoked


async def test_duplicate_id_or_hash_is_refused_and_changes_nothing(store: ConfigStore) -> None:
    original = _record("k1", "acme", 1_000)
    await store.create_key(original, "h1")
    with pytest.raises(BackendUnavailable):
        await store.create_key(_record("k1", "globex", 2_000), "h2")
    with pytest.raises(BackendUnavailable):
        await store.create_key(_record("k2", "globex", 3_000), "h1")
    assert await store.list_keys() == [original]
    assert await store.key_by_hash("h1") == original
    assert await store.key_by_hash("h2") is None
    assert await store.list_keys("globex") == []


async def test_redis_documents_hold_other_kinds_per_tenant(redis: RedisServer) -> None:
    settings = make_settings(Path("unused"), config_url=redis.url)
    store = build_config_store(settings)
    assert isinstance(store, RedisConfigStore)
    docs = store.documents
    try:
        assert await docs.create("dashboard", "acme", "d1", {"title": "CPU"})
        assert not await docs.create("dashboard", "acme", "d1", {"title": "again"})
        assert await docs.create("dashboard", "globex", "d1", {"title": "Sales"})
        assert await docs.get("dashboard", "acme", "d1") == {"title": "CPU"}
        assert await docs.get("dashboard", "initech", "d1") is None
        assert await docs.get("alert_rule", "acme", "d1") is None

        changed = await docs.update("dashboard", "acme", "d1", lambda d: {**d, "title": "Load"})
        assert changed
        assert not await docs.update("dashboard", "initech", "d1", lambda d: d)
        assert await docs.list("dashboard", "acme") == [{"title": "Load"}]
        assert await docs.list("dashboard", "globex") == [{"title": "Sales"}]
        assert sorted(d["title"] for d in await docs.list("dashboard")) == ["Load", "Sales"]
        assert await store.list_keys() == []
        with pytest.raises(ValueError, match="kind"):
            await docs.get("Bad:Kind", "acme", "d1")
    finally:
        await store.close()


async def test_redis_down_or_stalled_is_backend_unavailable(redis: RedisServer) -> None:
    settings = make_settings(Path("unused"), config_url=redis.url, backend_timeout_seconds=0.5)
    store = build_config_store(settings)
    try:
        await store.create_key(_record("k1", "acme", 1_000), "h1")

        redis.pause()
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            await store.key_by_hash("h1")
        assert time.monotonic() - started < 1.5, "a stalled Redis must fail within the timeout"
        redis.resume()

        redis.stop()
        with pytest.raises(BackendUnavailable):
            await store.create_key(_record("k2", "acme", 2_000), "h2")
        with pytest.raises(BackendUnavailable):
            await store.key_by_hash("h1")
        with pytest.raises(BackendUnavailable):
            await store.list_keys()
        with pytest.raises(BackendUnavailable):
            await store.list_keys("acme")
        with pytest.raises(BackendUnavailable):
            await store.revoke_key("k1")

        redis.start()  # an empty server (no persistence in tests): the store reconnects
        assert await store.key_by_hash("h1") is None
        await store.create_key(_record("k2", "acme", 2_000), "h2")
        assert [r.key_id for r in await store.list_keys("acme")] == ["k2"]
    finally:
        await store.close()


# -- keys made before `ingest` was a scope -------------------------------------------


async def test_a_key_stored_before_scopes_had_versions_keeps_ingesting(
    store: ConfigStore, store_settings: Settings, tmp_path: Path
) -> None:
    """Version 1 keys: `write` covered ingest, and a key made then still ingests."""
    secret_hash = hash_key("old-secret")
    legacy: dict[str, object] = {"key_id": "old", "tenant": "acme", "scopes": ["read", "write"],
                                 "created_at_ms": 1, "revoked": False, "description": "agent",
                                 "secret_hash": secret_hash}  # fmt: skip
    if isinstance(store, RedisConfigStore):
        created = await store.documents.create(
            "api_key", "acme", "old", legacy, refs={"id": "old", "secret": secret_hash}
        )
        assert created
        reopened: ConfigStore = store
    else:
        path = Path(store_settings.resolved_config_url.removeprefix("sqlite:///"))
        await store.close()
        old_schema = sqlite3.connect(tmp_path / "legacy.sqlite3")
        old_schema.executescript(
            "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE,"
            " tenant TEXT NOT NULL, scopes TEXT NOT NULL, created_at_ms INTEGER NOT NULL,"
            " revoked INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '');"
        )
        old_schema.execute(
            "INSERT INTO api_keys VALUES ('old', ?, 'acme', 'read,write', 1, 0, 'agent')",
            (secret_hash,),
        )
        old_schema.commit()
        old_schema.close()
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)  # the new store's journal, not the old file's
        (tmp_path / "legacy.sqlite3").replace(path)
        reopened = build_config_store(store_settings)  # the store adds the version column
    try:
        record = await reopened.key_by_hash(hash_key("old-secret"))
        assert record is not None
        assert record.scopes == {Scope.READ, Scope.WRITE, Scope.INGEST}
        # a key made today with `write` has exactly that
        _, key = await create_key(reopened, "acme", parse_scopes("write"))
        assert (await authenticate(reopened, key)).scopes == {Scope.WRITE}
    finally:
        if reopened is not store:
            await reopened.close()
