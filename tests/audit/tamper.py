"""What an attacker with the config store's credentials could do to an audit chain:
edit an entry in place, or delete one, in SQLite or in a Redis Stream."""

from __future__ import annotations

import sqlite3
from urllib.parse import quote, urlparse

import redis.asyncio as aioredis


def _sqlite_path(url: str) -> str:
    parsed = urlparse(url)
    return (parsed.netloc + parsed.path) if parsed.netloc else parsed.path


def _stream(tenant: str) -> str:
    return f"ag:audit:{quote(tenant, safe='')}"


async def edit_entry(config_url: str, tenant: str, entry_id: str, field: str, value: str) -> None:
    """Change one field of a stored entry, leaving its hash as it was."""
    if config_url.startswith("sqlite:"):
        with sqlite3.connect(_sqlite_path(config_url)) as conn:
            changed = conn.execute(
                "UPDATE audit_log SET body = json_set(body, ?, ?) WHERE seq = ? AND tenant = ?",
                (f"$.{field}", value, int(entry_id), tenant),
            ).rowcount
        assert changed == 1
        return
    # a Stream entry cannot be changed: rewrite the stream with the same ids
    client = aioredis.Redis.from_url(config_url, decode_responses=True)
    try:
        key = _stream(tenant)
        entries: list[tuple[str, dict[str, str]]] = await client.xrange(key)  # type: ignore[assignment]
        assert any(i == entry_id for i, _ in entries)
        await client.delete(key)
        for i, fields in entries:
            new = {**fields, field: value} if i == entry_id else fields
            await client.xadd(key, new, id=i)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def delete_entry(config_url: str, tenant: str, entry_id: str) -> None:
    if config_url.startswith("sqlite:"):
        with sqlite3.connect(_sqlite_path(config_url)) as conn:
            deleted = conn.execute(
                "DELETE FROM audit_log WHERE seq = ? AND tenant = ?", (int(entry_id), tenant)
            ).rowcount
        assert deleted == 1
        return
    client = aioredis.Redis.from_url(config_url, decode_responses=True)
    try:
        assert await client.xdel(_stream(tenant), entry_id) == 1
    finally:
        await client.aclose()


async def erase_chain(config_url: str, tenant: str) -> None:
    """Drop a tenant's entries and its anchor and head: the start of a full rewrite."""
    if config_url.startswith("sqlite:"):
        with sqlite3.connect(_sqlite_path(config_url)) as conn:
            conn.execute("DELETE FROM audit_log WHERE tenant = ?", (tenant,))
            conn.execute("DELETE FROM audit_chains WHERE tenant = ?", (tenant,))
        return
    client = aioredis.Redis.from_url(config_url, decode_responses=True)
    try:
        await client.delete(_stream(tenant), f"ag:audit-chain:{quote(tenant, safe='')}")
    finally:
        await client.aclose()
