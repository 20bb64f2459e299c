"""Embedded `ConfigStore` on SQLite (WAL), shared safely by the server and the CLI.

DuckDB allows one writing process per file, so configuration that the CLI
changes while a server runs (API keys) lives here instead. Lookups read the
file each time, so a revoked key stops working at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from analytics_gateway.domain import ApiKeyRecord, Scope
from analytics_gateway.errors import BackendUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT ''
);
"""


def _record(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row["key_id"],
        tenant=row["tenant"],
        scopes=frozenset(Scope(s) for s in row["scopes"].split(",") if s),
        created_at_ms=row["created_at_ms"],
        revoked=bool(row["revoked"]),
        description=row["description"],
    )


class SQLiteConfigStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=5.0)
        conn.row_factory = sqlite3.Row
        return conn

    async def _call(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        def run() -> list[sqlite3.Row]:
            conn = self._connect()
            try:
                with conn:
                    return conn.execute(sql, params).fetchall()
            finally:
                conn.close()

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise BackendUnavailable("config store (sqlite) failed", backend="config") from exc

    async def create_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        await self._call(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                secret_hash,
                record.tenant,
                ",".join(sorted(record.scopes)),
                record.created_at_ms,
                int(record.revoked),
                record.description,
            ),
        )

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        rows = await self._call("SELECT * FROM api_keys WHERE secret_hash = ?", (secret_hash,))
        return _record(rows[0]) if rows else None

    async def list_keys(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        if tenant is None:
            rows = await self._call("SELECT * FROM api_keys ORDER BY created_at_ms", ())
        else:
            rows = await self._call(
                "SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at_ms", (tenant,)
            )
        return [_record(r) for r in rows]

    async def revoke_key(self, key_id: str) -> bool:
        rows = await self._call(
            "UPDATE api_keys SET revoked = 1 WHERE key_id = ? RETURNING key_id", (key_id,)
        )
        return bool(rows)

    async def close(self) -> None:
        return None
