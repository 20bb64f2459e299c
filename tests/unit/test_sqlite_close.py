"""Closing the embedded config store while its pool threads still work on it.

Work on a pool thread outlives a cancelled caller, so at shutdown `close` can meet a
statement still running: closing its connection then was a segmentation fault of the
whole process (seen in the alerting durability tests, the audit trim under way)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.errors import BackendUnavailable

DEADLINE = 60.0

CLOSE_UNDER_A_STATEMENT = """
import asyncio, sys, threading
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore

SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
        "SELECT count(*) FROM c")

async def main() -> None:
    store = SQLiteConfigStore(sys.argv[1])
    running = threading.Event()

    def work(conn):
        def signal() -> int:
            running.set()
            return 0
        conn.set_progress_handler(signal, 1000)
        try:
            return conn.execute(SLOW).fetchone()[0]
        finally:
            conn.set_progress_handler(None, 0)

    task = asyncio.create_task(store._audit_write(work))
    await asyncio.to_thread(running.wait, 60)  # the statement is inside SQLite now
    await store.close()
    print(await task)

asyncio.run(main())
"""


def test_closing_under_a_running_statement_waits_for_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_UNDER_A_STATEMENT, str(tmp_path / "c.sqlite3")],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "2000000"


async def test_an_append_under_way_when_the_store_closes_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = SQLiteConfigStore(path)
    sealing, release = threading.Event(), threading.Event()

    def seal(head: str) -> dict[str, str]:
        sealing.set()
        release.wait(DEADLINE)
        return {"time": "1", "hash": "h1", "previous": head}

    append = asyncio.create_task(store.append_audit("acme", seal))
    assert await asyncio.to_thread(sealing.wait, DEADLINE)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)  # `close` has begun
    release.set()
    assert await asyncio.wait_for(append, DEADLINE) == "1"
    await asyncio.wait_for(closing, DEADLINE)

    reopened = SQLiteConfigStore(path)
    try:
        assert await reopened.audit_ends("acme") == ("", "h1")
    finally:
        await reopened.close()


async def test_a_closed_store_refuses_work_instead_of_reopening(tmp_path: Path) -> None:
    store = SQLiteConfigStore(tmp_path / "c.sqlite3")
    await store.audit_tenants()  # this pool thread has its connection now
    await store.close()
    with pytest.raises(BackendUnavailable):
        await store.audit_tenants()
    with pytest.raises(BackendUnavailable):
        await store.append_audit("acme", lambda head: {"time": "1", "hash": "h"})
