"""Versioned per-tenant documents of every ConfigStore: SQLite and Redis (a real server)."""

from __future__ import annotations

import pytest

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import Conflict


async def test_put_get_list_and_versions(config_store: ConfigStore) -> None:
    assert await config_store.get_document("dashboard", "acme", "d1") is None
    assert await config_store.put_document("dashboard", "acme", "d1", {"name": "one", "n": 1}) == 1
    assert await config_store.put_document("dashboard", "acme", "d2", {"name": "two"}) == 1
    assert await config_store.put_document("dashboard", "acme", "d1", {"name": "one", "n": 2}) == 2
    assert await config_store.get_document("dashboard", "acme", "d1") == (
        2,
        {"name": "one", "n": 2},
    )
    assert await config_store.list_documents("dashboard", "acme") == [
        ("d1", 2, {"name": "one", "n": 2}),
        ("d2", 1, {"name": "two"}),
    ]
    assert await config_store.list_documents("alert_rule", "acme") == []


async def test_stale_version_is_a_conflict_and_changes_nothing(config_store: ConfigStore) -> None:
    await config_store.put_document("dashboard", "acme", "d1", {"rev": "a"}, expected_version=0)
    with pytest.raises(Conflict) as raised:
        await config_store.put_document("dashboard", "acme", "d1", {"rev": "x"}, expected_version=0)
    assert raised.value.extensions["current_version"] == 1
    assert (
        await config_store.put_document("dashboard", "acme", "d1", {"rev": "b"}, expected_version=1)
        == 2
    )
    with pytest.raises(Conflict):
        await config_store.put_document("dashboard", "acme", "d1", {"rev": "c"}, expected_version=1)
    assert await config_store.get_document("dashboard", "acme", "d1") == (2, {"rev": "b"})


async def test_tenants_never_see_each_others_documents(config_store: ConfigStore) -> None:
    await config_store.put_document("alert_rule", "acme", "r1", {"owner": "acme"})
    await config_store.put_document("alert_rule", "acme:x", "r1", {"owner": "acme:x"})
    assert await config_store.get_document("alert_rule", "globex", "r1") is None
    assert await config_store.list_documents("alert_rule", "globex") == []
    assert await config_store.get_document("alert_rule", "acme", "r1") == (1, {"owner": "acme"})
    assert not await config_store.delete_document("alert_rule", "globex", "r1")
    assert await config_store.document_tenants("alert_rule") == ["acme", "acme:x"]


async def test_delete_removes_the_document_and_an_empty_tenant(config_store: ConfigStore) -> None:
    await config_store.put_document("silence", "acme", "s1", {})
    await config_store.put_document("silence", "globex", "s1", {})
    assert await config_store.delete_document("silence", "acme", "s1")
    assert not await config_store.delete_document("silence", "acme", "s1")
    assert await config_store.get_document("silence", "acme", "s1") is None
    assert await config_store.document_tenants("silence") == ["globex"]
    assert await config_store.put_document("silence", "acme", "s1", {}, expected_version=0) == 1


async def test_put_documents_writes_each_item_or_returns_its_conflict(
    config_store: ConfigStore,
) -> None:
    await config_store.put_document("alert_state", "acme", "s2", {"n": 0})
    results = await config_store.put_documents(
        "alert_state",
        "acme",
        [("s1", {"n": 1}, 0), ("s2", {"n": 2}, 0), ("s2", {"n": 3}, 1), ("s3", {"n": 4}, None)],
    )
    assert results[0] == 1
    assert isinstance(results[1], Conflict)
    assert results[1].extensions["current_version"] == 1
    assert results[2:] == [2, 1]
    assert await config_store.list_documents("alert_state", "acme") == [
        ("s1", 1, {"n": 1}),
        ("s2", 2, {"n": 3}),
        ("s3", 1, {"n": 4}),
    ]
    assert await config_store.document_tenants("alert_state") == ["acme"]
    assert await config_store.put_documents("alert_state", "acme", []) == []
