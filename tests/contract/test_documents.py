"""Versioned per-tenant documents of every ConfigStore: SQLite and Redis (a real server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.errors import Conflict
from tests.conftest import make_settings
from tests.servers import RedisServer


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConfigStore]:
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data", config_url="")
    else:
        server: RedisServer = request.getfixturevalue("redis")
        settings = make_settings(tmp_path / "data", config_url=server.url)
    instance = build_config_store(settings)
    yield instance
    await instance.close()


async def test_put_get_list_and_versions(store: ConfigStore) -> None:
    assert await store.get_document("dashboard", "acme", "d1") is None
    assert await store.put_document("dashboard", "acme", "d1", {"name": "one", "n": 1}) == 1
    assert await store.put_document("dashboard", "acme", "d2", {"name": "two"}) == 1
    assert await store.put_document("dashboard", "acme", "d1", {"name": "one", "n": 2}) == 2
    assert await store.get_document("dashboard", "acme", "d1") == (2, {"name": "one", "n": 2})
    assert await store.list_documents("dashboard", "acme") == [
        ("d1", 2, {"name": "one", "n": 2}),
        ("d2", 1, {"name": "two"}),
    ]
    assert await store.list_documents("alert_rule", "acme") == []


async def test_stale_version_is_a_conflict_and_changes_nothing(store: ConfigStore) -> None:
    await store.put_document("dashboard", "acme", "d1", {"rev": "a"}, expected_version=0)
    with pytest.raises(Conflict) as raised:
        await store.put_document("dashboard", "acme", "d1", {"rev": "x"}, expected_version=0)
    assert raised.value.extensions["current_version"] == 1
    assert (
        await store.put_document("dashboard", "acme", "d1", {"rev": "b"}, expected_version=1) == 2
    )
    with pytest.raises(Conflict):
        await store.put_document("dashboard", "acme", "d1", {"rev": "c"}, expected_version=1)
    assert await store.get_document("dashboard", "acme", "d1") == (2, {"rev": "b"})


async def test_tenants_never_see_each_others_documents(store: ConfigStore) -> None:
    await store.put_document("alert_rule", "acme", "r1", {"owner": "acme"})
    await store.put_document("alert_rule", "acme:x", "r1", {"owner": "acme:x"})
    assert await store.get_document("alert_rule", "globex", "r1") is None
    assert await store.list_documents("alert_rule", "globex") == []
    assert await store.get_document("alert_rule", "acme", "r1") == (1, {"owner": "acme"})
    assert not await store.delete_document("alert_rule", "globex", "r1")
    assert await store.document_tenants("alert_rule") == ["acme", "acme:x"]


async def test_delete_removes_the_document_and_an_empty_tenant(store: ConfigStore) -> None:
    await store.put_document("silence", "acme", "s1", {})
    await store.put_document("silence", "globex", "s1", {})
    assert await store.delete_document("silence", "acme", "s1")
    assert not await store.delete_document("silence", "acme", "s1")
    assert await store.get_document("silence", "acme", "s1") is None
    assert await store.document_tenants("silence") == ["globex"]
    assert await store.put_document("silence", "acme", "s1", {}, expected_version=0) == 1
