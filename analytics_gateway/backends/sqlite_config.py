"""Embedded `ConfigStore` on SQLite (WAL), shared safely by the server and the CLI.

DuckDB allows one writing process per file, so configuration that the CLI
changes while a server runs (API keys) lives here instead. Lookups read the
file (each statement is its own transaction), or, for a key, memory while the
file has not changed since (`key_by_hash`), so a revoked key stops working at
once. Each worker thread keeps one open connection: opening
one per lookup cost more than the lookup itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from analytics_gateway.backends import sqlite_audit
from analytics_gateway.backends.base import (
    AuditRecord,
    AuditSeal,
    DocumentWrite,
    new_version,
    stale_version,
)
from analytics_gateway.backends.sqlite_threads import ThreadConnections
from analytics_gateway.domain import (
    SCOPES_VERSION,
    ApiKeyRecord,
    Scope,
    superseded,
    upgraded_scopes,
)
from analytics_gateway.errors import BackendUnavailable, Conflict

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    scopes_version INTEGER NOT NULL DEFAULT 1,
    expires_at_ms INTEGER,
    last_used_at_ms INTEGER,
    previous_hash TEXT,
    previous_until_ms INTEGER
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, tenant, doc_id)
);
"""


MAX_KEYS_SEEN = 10_000  # keys answered from memory; beyond, the memory starts over

# the key lifecycle's columns, added to a store made before keys could expire or rotate
_LIFECYCLE_COLUMNS = {
    "expires_at_ms": "INTEGER",
    "last_used_at_ms": "INTEGER",
    "previous_hash": "TEXT",
    "previous_until_ms": "INTEGER",
}


def _record(row: sqlite3.Row, secret_hash: str | None = None) -> ApiKeyRecord:
    """The row's key; found by `secret_hash`, the secret a rotation replaced, it
    expires when that secret's grace ends."""
    stored = frozenset(Scope(s) for s in row["scopes"].split(",") if s)
    return superseded(
        ApiKeyRecord(
            key_id=row["key_id"],
            tenant=row["tenant"],
            scopes=upgraded_scopes(stored, row["scopes_version"]),
            created_at_ms=row["created_at_ms"],
            revoked=bool(row["revoked"]),
            description=row["description"],
            expires_at_ms=row["expires_at_ms"],
            last_used_at_ms=row["last_used_at_ms"],
            previous_until_ms=row["previous_until_ms"],
        ),
        secret_hash is not None and secret_hash == row["previous_hash"],
    )


class SQLiteConfigStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.executescript(sqlite_audit.SCHEMA)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(api_keys)")}
            if "scopes_version" not in columns:  # a store made before scopes had versions
                conn.execute(
                    "ALTER TABLE api_keys ADD COLUMN scopes_version INTEGER NOT NULL DEFAULT 1"
                )
            for name, kind in _LIFECYCLE_COLUMNS.items():
                if name not in columns:
                    conn.execute(f"ALTER TABLE api_keys ADD COLUMN {name} {kind}")
            conn.execute(
                "CREATE INDEX IF NOT EXISTS api_keys_previous_hash ON api_keys (previous_hash)"
            )
        self._reads = ThreadConnections(self._connect)
        self._audit = sqlite_audit.Writer(self._path)
        # keys looked up since the database last changed (see `key_by_hash`)
        self._watch: sqlite3.Connection | None = None
        self._keys_version: int | None = None
        self._keys_seen: dict[str, ApiKeyRecord] = {}

    def _connect(self) -> sqlite3.Connection:
        # used by one thread at a time; `close` may close it from another (see
        # `sqlite_threads`)
        conn = sqlite3.connect(self._path, timeout=5.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    async def _call(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        def run() -> list[sqlite3.Row]:
            with self._reads.use() as conn, conn:  # commits, or rolls back on an error
                return conn.execute(sql, params).fetchall()

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise BackendUnavailable("config store (sqlite) failed", backend="config") from exc

    async def create_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        await self._call(
            "INSERT INTO api_keys (key_id, secret_hash, tenant, scopes, created_at_ms, revoked,"
            " description, scopes_version, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                secret_hash,
                record.tenant,
                ",".join(sorted(record.scopes)),
                record.created_at_ms,
                int(record.revoked),
                record.description,
                SCOPES_VERSION,
                record.expires_at_ms,
            ),
        )

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        """Every request asks this. A key found since the database last changed is
        answered from memory, on the event loop: `PRAGMA data_version` (a read of
        shared memory, no disk) changes with every commit of any other connection or
        process, a revocation by the CLI included, so the answer is the store's as of
        now. Otherwise the lookup takes a pool thread, and waits for the event loop's
        turn to come back: under a neighbour's load, most of a small request's time."""
        version = self._data_version()
        if version is not None and version == self._keys_version:
            known = self._keys_seen.get(secret_hash)
            if known is not None:
                return known
        elif version is not None:
            self._keys_version = version
            self._keys_seen = {}
        rows = await self._call(
            "SELECT * FROM api_keys WHERE secret_hash = ? OR previous_hash = ?",
            (secret_hash, secret_hash),
        )
        record = _record(rows[0], secret_hash) if rows else None
        # kept under the version read before the lookup: a commit meanwhile changes it
        if record is not None and version == self._keys_version:
            if len(self._keys_seen) >= MAX_KEYS_SEEN:
                self._keys_seen = {}
            self._keys_seen[secret_hash] = record
        return record

    def _data_version(self) -> int | None:
        """The database's change counter as this process's watching connection sees
        it; None when it cannot say (the lookup then asks the store)."""
        if self._path == ":memory:":  # each connection would be a database of its own
            return None
        try:
            if self._watch is None:
                self._watch = self._connect()
            row = self._watch.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

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

    async def rotate_key(
        self, key_id: str, secret_hash: str, previous_until_ms: int
    ) -> ApiKeyRecord | None:
        rows = await self._call(
            "UPDATE api_keys SET previous_hash = secret_hash, previous_until_ms = ?,"
            " secret_hash = ? WHERE key_id = ? RETURNING *",
            (previous_until_ms, secret_hash, key_id),
        )
        return _record(rows[0]) if rows else None

    async def touch_keys(self, used_at_ms: Mapping[str, int]) -> None:
        if not used_at_ms:
            return

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE api_keys SET last_used_at_ms = MAX(COALESCE(last_used_at_ms, 0), ?)"
                " WHERE key_id = ?",
                [(at_ms, key_id) for key_id, at_ms in used_at_ms.items()],
            )

        await self._transaction(work)

    async def put_document(
        self,
        kind: str,
        tenant: str,
        doc_id: str,
        document: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> int:
        [outcome] = await self.put_documents(kind, tenant, [(doc_id, document, expected_version)])
        return new_version(outcome)

    async def put_documents(
        self, kind: str, tenant: str, items: Sequence[DocumentWrite]
    ) -> list[int | Conflict]:
        bodies = [(doc_id, orjson.dumps(doc).decode(), expected) for doc_id, doc, expected in items]
        if not bodies:
            return []
        return await self._transaction(
            lambda conn: [_put(conn, kind, tenant, *item) for item in bodies]
        )

    async def get_document(
        self, kind: str, tenant: str, doc_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        rows = await self._call(
            "SELECT version, body FROM documents WHERE kind = ? AND tenant = ? AND doc_id = ?",
            (kind, tenant, doc_id),
        )
        return (int(rows[0]["version"]), orjson.loads(rows[0]["body"])) if rows else None

    async def list_documents(self, kind: str, tenant: str) -> list[tuple[str, int, dict[str, Any]]]:
        rows = await self._call(
            "SELECT doc_id, version, body FROM documents WHERE kind = ? AND tenant = ? "
            "ORDER BY doc_id",
            (kind, tenant),
        )
        return [(r["doc_id"], int(r["version"]), orjson.loads(r["body"])) for r in rows]

    async def delete_document(self, kind: str, tenant: str, doc_id: str) -> bool:
        rows = await self._call(
            "DELETE FROM documents WHERE kind = ? AND tenant = ? AND doc_id = ? RETURNING doc_id",
            (kind, tenant, doc_id),
        )
        return bool(rows)

    async def document_tenants(self, kind: str) -> list[str]:
        rows = await self._call(
            "SELECT DISTINCT tenant FROM documents WHERE kind = ? ORDER BY tenant", (kind,)
        )
        return [r["tenant"] for r in rows]

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE: one writer at a time)."""

        def run() -> T:
            conn = self._connect()
            conn.isolation_level = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            finally:
                conn.close()

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise BackendUnavailable("config store (sqlite) failed", backend="config") from exc

    # -- audit chains: see `sqlite_audit` --

    async def append_audit(self, tenant: str, seal: AuditSeal) -> str:
        return await self._audit_write(lambda conn: sqlite_audit.append(conn, tenant, seal))

    async def audit_entries(
        self,
        tenant: str,
        *,
        after: str | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        sql, params = sqlite_audit.entries_query(after, newest_first)
        rows = await self._call(sql, (tenant, *params, limit))
        return [(str(r["seq"]), sqlite_audit.fields_of(r["body"])) for r in rows]

    async def audit_ends(self, tenant: str) -> tuple[str, str]:
        rows = await self._call(sqlite_audit.ENDS, (tenant,))
        return (rows[0]["anchor"], rows[0]["head"]) if rows else ("", "")

    async def trim_audit(self, tenant: str, before_ms: int, limit: int = 1000) -> int:
        return await self._audit_write(
            lambda conn: sqlite_audit.trim(conn, tenant, before_ms, limit)
        )

    async def audit_tenants(self) -> list[str]:
        return [r["tenant"] for r in await self._call(sqlite_audit.TENANTS, ())]

    async def _audit_write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await asyncio.to_thread(self._audit.run, work)
        except sqlite3.Error as exc:
            raise BackendUnavailable("config store (sqlite) failed", backend="config") from exc

    async def close(self) -> None:
        """Closes each connection once the statement running on it ends: work on a
        pool thread outlives a cancelled caller (see `sqlite_threads`)."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        await asyncio.to_thread(self._audit.close)
        await asyncio.to_thread(self._reads.close)


def _put(
    conn: sqlite3.Connection,
    kind: str,
    tenant: str,
    doc_id: str,
    body: str,
    expected_version: int | None,
) -> int | Conflict:
    """Write one document inside the caller's transaction: its new version, or the
    conflict that kept it from being written."""
    row = conn.execute(
        "SELECT version FROM documents WHERE kind = ? AND tenant = ? AND doc_id = ?",
        (kind, tenant, doc_id),
    ).fetchone()
    current = int(row["version"]) if row else 0
    if expected_version is not None and expected_version != current:
        return stale_version(kind, doc_id, current, expected_version)
    conn.execute(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, tenant, doc_id) "
        "DO UPDATE SET version = excluded.version, body = excluded.body",
        (kind, tenant, doc_id, current + 1, body),
    )
    return current + 1
