"""The audit chains of the embedded config store: one SQLite table, one row per entry.

An append reads the tenant's head and inserts the entry sealed on it inside one
`BEGIN IMMEDIATE` transaction (SQLite's single writer), so appends from the server
and the CLI, or two servers on one file, never fork a chain. `audit_chains` keeps
each tenant's anchor (the hash of the last entry trimmed away) and head.

Appends commit with `synchronous=NORMAL` on connections of their own (one per
thread, kept open): measured here, a FULL commit on a fresh connection took 24 ms
(the fsync, and a checkpoint when it closed), NORMAL on a kept one 0.04 ms. In WAL
mode NORMAL loses no commit when the process dies, only the last ones if the
machine loses power, as Redis with `appendfsync everysec` does; the entry and its
chain head are one transaction, so a lost commit never breaks the chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import TypeVar

import orjson

from analytics_gateway.backends.sqlite_threads import ThreadConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_tenant ON audit_log (tenant, seq);
CREATE TABLE IF NOT EXISTS audit_chains (
    tenant TEXT PRIMARY KEY,
    anchor TEXT NOT NULL DEFAULT '',
    head TEXT NOT NULL DEFAULT ''
);
"""

Seal = Callable[[str], Mapping[str, str]]
T = TypeVar("T")


class Writer:
    """Write transactions for the audit tables, each thread on a connection it keeps."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connections = ThreadConnections(self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=5.0, check_same_thread=False)
        conn.isolation_level = None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one BEGIN IMMEDIATE transaction (blocking: call it from a thread)."""
        with self._connections.use() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a failed COMMIT (busy) leaves it open
                    conn.execute("ROLLBACK")
                raise
            return result

    def close(self) -> None:
        """Blocking: waits for a transaction under way to end."""
        self._connections.close()


ENDS = "SELECT anchor, head FROM audit_chains WHERE tenant = ?"
TENANTS = "SELECT tenant FROM audit_chains ORDER BY tenant"


def entries_query(after: str | None, newest_first: bool) -> tuple[str, tuple[object, ...]]:
    """SQL and the parameters after the tenant for a page (the limit goes last)."""
    order = "DESC" if newest_first else "ASC"
    if after is None:
        return f"SELECT seq, body FROM audit_log WHERE tenant = ? ORDER BY seq {order} LIMIT ?", ()
    compare = "<" if newest_first else ">"
    return (
        f"SELECT seq, body FROM audit_log WHERE tenant = ? AND seq {compare} ? "
        f"ORDER BY seq {order} LIMIT ?",
        (_seq(after),),
    )


def _seq(entry_id: str) -> int:
    try:
        return int(entry_id)
    except ValueError:
        return 0


def fields_of(body: str) -> dict[str, str]:
    loaded = orjson.loads(body)
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def append(conn: sqlite3.Connection, tenant: str, seal: Seal) -> str:
    """Inside the caller's write transaction: the entry sealed on the head, appended."""
    row = conn.execute("SELECT head FROM audit_chains WHERE tenant = ?", (tenant,)).fetchone()
    fields = seal(row["head"] if row else "")
    cursor = conn.execute(
        "INSERT INTO audit_log (tenant, time_ms, body) VALUES (?, ?, ?)",
        (tenant, int(fields.get("time", "0")), orjson.dumps(dict(fields)).decode()),
    )
    conn.execute(
        "INSERT INTO audit_chains (tenant, head) VALUES (?, ?) "
        "ON CONFLICT (tenant) DO UPDATE SET head = excluded.head",
        (tenant, fields["hash"]),
    )
    return str(cursor.lastrowid)


def trim(conn: sqlite3.Connection, tenant: str, before_ms: int, limit: int) -> int:
    """Inside the caller's write transaction: drop the oldest entries before `before_ms`
    (at most `limit`, and never past a newer one), the last one's hash kept as anchor."""
    rows = conn.execute(
        "SELECT seq, time_ms, body FROM audit_log WHERE tenant = ? ORDER BY seq LIMIT ?",
        (tenant, limit),
    ).fetchall()
    dropped = []
    for row in rows:
        if row["time_ms"] >= before_ms:
            break
        dropped.append(row)
    if not dropped:
        return 0
    last = dropped[-1]
    conn.execute("DELETE FROM audit_log WHERE tenant = ? AND seq <= ?", (tenant, last["seq"]))
    conn.execute(
        "UPDATE audit_chains SET anchor = ? WHERE tenant = ?",
        (fields_of(last["body"]).get("hash", ""), tenant),
    )
    return len(dropped)
