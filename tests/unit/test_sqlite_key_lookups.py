"""The embedded config store answers a key it found from memory until the database
changes, from this process or any other (the CLI): every request looks its key up,
and a pool thread per lookup was most of a small request's time under load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics_gateway.auth import create_key, hash_key, parse_scopes
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore


def counting_calls(store: SQLiteConfigStore) -> list[str]:
    """The statements `store` runs on its pool threads, from now on."""
    calls: list[str] = []
    real = store._call

    async def counted(sql: str, params: tuple[object, ...]) -> Any:
        calls.append(sql)
        return await real(sql, params)

    store._call = counted  # type: ignore[method-assign]
    return calls


async def test_a_key_is_read_again_only_once_the_database_changed(tmp_path: Path) -> None:
    path = tmp_path / "config.sqlite3"
    server, cli = SQLiteConfigStore(path), SQLiteConfigStore(path)
    try:
        record, key = await create_key(server, "acme", parse_scopes("read"))
        other, other_key = await create_key(server, "acme", parse_scopes("read"))
        calls = counting_calls(server)
        for _ in range(3):
            found = await server.key_by_hash(hash_key(key))
            assert found is not None
            assert not found.revoked
        assert len(calls) == 1  # read once; then from memory

        await cli.put_document("note", "acme", "n1", {"x": 1}, expected_version=0)
        assert (await server.key_by_hash(hash_key(key))) == found
        assert len(calls) == 2  # any commit elsewhere: read again

        assert await cli.revoke_key(record.key_id) is True
        revoked = await server.key_by_hash(hash_key(key))
        assert revoked is not None
        assert revoked.revoked
        still = await server.key_by_hash(hash_key(other_key))
        assert still is not None
        assert still.key_id == other.key_id
        assert not still.revoked

        assert await server.key_by_hash(hash_key("agk_unknown")) is None
        assert await server.key_by_hash(hash_key("agk_unknown")) is None
        assert len(calls) == 6  # an unknown key is asked for each time
    finally:
        await server.close()
        await cli.close()


async def test_a_revocation_through_the_same_store_applies_at_once(tmp_path: Path) -> None:
    store = SQLiteConfigStore(tmp_path / "config.sqlite3")
    try:
        record, key = await create_key(store, "acme", parse_scopes("read"))
        assert not (await store.key_by_hash(hash_key(key))).revoked  # type: ignore[union-attr]
        assert await store.revoke_key(record.key_id) is True
        assert (await store.key_by_hash(hash_key(key))).revoked  # type: ignore[union-attr]
    finally:
        await store.close()
