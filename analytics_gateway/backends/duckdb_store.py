"""Embedded metric and event store on one DuckDB file (decision 2).

Points are stored as (series_id, ts, value): the tenant, name and labels of a
series live once in `series`, so a write moves three numbers per point and a
label filter scans the small series table, not every point. Series ids are
assigned by this process, the file's only writer.

Each tenant's points and events are tables of their own (`duckdb_tables`): in
shared tables a read scanned every tenant's rows in its time range, DuckDB
having no index to skip the others', so a tenant writing at its default rate
for 15 minutes made a neighbour's small read of those 15 minutes 3.5-4.4x
slower (`python -m bench --only neighbour-volume`), and a count of its events
10x slower. A file from before is split per tenant when opened
(`_split_shared_tables`); the shared `events` table stays, empty, as what a
tenant with no events yet reads.

Calls run on a small thread pool with one cursor per thread, never on the
event loop. Every `*_many` method answers all its queries with ONE SQL
statement (`UNION ALL`), which is what the dataloaders count on; every
statement is one call in `gateway_backend_calls_total` (`backends.calls`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from analytics_gateway.backends import read_budget
from analytics_gateway.backends.calls import BackendCalls, Operation
from analytics_gateway.backends.duckdb_behaviour import DuckDBBehaviour
from analytics_gateway.backends.duckdb_engagement import DuckDBEngagement
from analytics_gateway.backends.duckdb_features import DuckDBFeatures
from analytics_gateway.backends.duckdb_journeys import DuckDBJourneys
from analytics_gateway.backends.duckdb_tables import (
    SHARED_EVENTS,
    events_table,
    points_table,
)
from analytics_gateway.domain import (
    Aggregation,
    BatchColumns,
    Event,
    EventCountQuery,
    EventQuery,
    LabelValuesQuery,
    MetricQuery,
    PointBatch,
    Series,
)
from analytics_gateway.errors import BackendTimeout, BackendUnavailable, QueryTooComplex

T = TypeVar("T")

# the columns of each tenant's tables; the shared `events` table has the same, so
# a file from before moves its rows over with `SELECT *`
_POINTS_COLUMNS = "series_id INTEGER NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL"
_EVENTS_COLUMNS = (
    "tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, type VARCHAR NOT NULL, "
    "user_id VARCHAR, ts BIGINT NOT NULL, metadata VARCHAR NOT NULL"
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, tenant VARCHAR NOT NULL, name VARCHAR NOT NULL,
    labels VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS written_batches (
    fingerprint BLOB PRIMARY KEY, written_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {SHARED_EVENTS} ({_EVENTS_COLUMNS});
"""

# A batch is stored once: its fingerprint is kept for a day, so a retry of it
# (a client's after a timeout, a write that timed out here and was applied
# anyway) is recognised and skipped; older fingerprints are pruned now and then.
REMEMBER_BATCHES_MS = 86_400_000
PRUNE_EVERY = 1000

_AGG_SQL = {
    Aggregation.AVG: "avg(value)",
    Aggregation.SUM: "sum(value)",
    Aggregation.MIN: "min(value)",
    Aggregation.MAX: "max(value)",
    Aggregation.COUNT: "count(*)::DOUBLE",
    Aggregation.LAST: "arg_max(value, ts)",
    Aggregation.P50: "quantile_cont(value, 0.5)",
    Aggregation.P95: "quantile_cont(value, 0.95)",
    Aggregation.P99: "quantile_cont(value, 0.99)",
    Aggregation.RATE: (
        "CASE WHEN max(ts) > min(ts) THEN "
        "(arg_max(value, ts) - arg_min(value, ts)) / ((max(ts) - min(ts)) / 1000.0) END"
    ),
}


def _label_path(label: str) -> str:
    return "$." + json.dumps(label)


class DuckDBStore:
    """Implements both `MetricStore` and `EventStore` on one database file."""

    def __init__(
        self,
        path: Path | str,
        *,
        threads: int = 4,
        timeout_seconds: float = 5.0,
        max_points: int = 1_000_000,
        calls: BackendCalls | None = None,
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(str(path))
        self._conn.execute(_SCHEMA)
        _split_shared_tables(self._conn)
        # the tenants' tables; a tenant with none has never written a point (an event)
        tables = {
            r[0] for r in self._conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        self._point_tables = {t for t in tables if t.startswith("points_")}
        self._event_tables = {t for t in tables if t.startswith("events_")}
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="duckdb")
        self._write_lock = threading.Lock()
        self._timeout = timeout_seconds
        self._max_points = max_points
        rows = self._conn.execute("SELECT id, tenant, name, labels FROM series").fetchall()
        self._series_ids: dict[tuple[str, str, str], int] = {(r[1], r[2], r[3]): r[0] for r in rows}
        # id -> labels JSON: reads return series ids, not a labels string per point
        self._series_labels: dict[int, str] = {r[0]: r[3] for r in rows}
        self._next_series_id = max((r[0] for r in rows), default=0) + 1
        self._uncommitted: set[int] = set()  # ids handed out whose row may not be stored yet
        self._writes = 0
        self._calls = (calls or BackendCalls()).of("duckdb")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._conn.cursor()
            self._local.cursor = cursor
        return cursor

    def _on_cursor(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`fn` with this thread's cursor, which it leaves with no result pending: a
        result read only in part (a `fetchone`) would refuse the next call's read."""
        cursor = self._cursor()
        try:
            return fn(cursor)
        finally:
            cursor.abort()

    async def _run(self, operation: Operation, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`fn` on a pool thread: one statement (or one transaction), counted as one call."""
        with self._calls.call(operation):
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor, self._on_cursor, fn)
            try:
                return await asyncio.wait_for(future, read_budget.timeout(self._timeout))
            except TimeoutError as exc:
                raise BackendTimeout("store (duckdb) timed out", backend="duckdb") from exc
            except duckdb.Error as exc:
                raise BackendUnavailable(f"store (duckdb) failed: {exc}", backend="duckdb") from exc

    # -- metrics ---------------------------------------------------------

    async def write_batch(self, batch: PointBatch) -> None:
        if not batch:
            return
        columns = batch.columns()
        series_ids, pending = self._assign_series(columns, batch.tenant)
        points = pa.table(
            {
                "series_id": pa.array(series_ids, pa.int32()),
                "ts": pa.array(columns.timestamps, pa.int64()),
                "value": pa.array(columns.values, pa.float64()),
            }
        )
        new_series = pa.table(
            {
                "id": pa.array([p[0] for p in pending], pa.int32()),
                "tenant": pa.array([p[1] for p in pending], pa.string()),
                "name": pa.array([p[2] for p in pending], pa.string()),
                "labels": pa.array([p[3] for p in pending], pa.string()),
            }
        )

        fingerprint = batch_fingerprint(batch.tenant, columns)
        table = points_table(batch.tenant)

        def write(cur: duckdb.DuckDBPyConnection) -> None:
            with self._write_lock:
                cur.execute("BEGIN TRANSACTION")
                try:
                    if not self._first_write(cur, fingerprint):
                        cur.execute("ROLLBACK")
                        return
                    if pending:
                        cur.register("incoming_series", new_series)
                        cur.execute("INSERT OR IGNORE INTO series SELECT * FROM incoming_series")
                        cur.unregister("incoming_series")
                    if table not in self._point_tables:
                        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({_POINTS_COLUMNS})")
                    cur.register("incoming_points", points)
                    cur.execute(f"INSERT INTO {table} SELECT * FROM incoming_points")
                    cur.unregister("incoming_points")
                    cur.execute("COMMIT")
                    self._point_tables.add(table)  # committed: reads may name it
                except Exception:
                    cur.execute("ROLLBACK")
                    raise

        await self._run("write_points", write)
        self._uncommitted.difference_update(p[0] for p in pending)

    def _first_write(self, cur: duckdb.DuckDBPyConnection, fingerprint: bytes) -> bool:
        """Inside a write's transaction (and the write lock): note the batch, and say
        whether it is new; False means it is stored already and this is a retry.
        Every `PRUNE_EVERY` writes, fingerprints older than a day are dropped."""
        now = int(time.time() * 1000)
        first = cur.execute(
            "INSERT OR IGNORE INTO written_batches VALUES (?, ?) RETURNING 1", [fingerprint, now]
        ).fetchall()
        if first:
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                cur.execute(
                    "DELETE FROM written_batches WHERE written_ms < ?", [now - REMEMBER_BATCHES_MS]
                )
        return bool(first)

    def _assign_series(
        self, columns: BatchColumns, tenant: str
    ) -> tuple[npt.NDArray[np.int32], list[tuple[int, str, str, str]]]:
        """Series id per point, and the series rows this write must (re)insert.

        Runs on the event loop with no await, so ids are unique. A series whose
        first write has not committed yet is written again (idempotently) by
        every batch that uses it, so no point ever refers to a missing series.
        """
        known = self._series_ids
        pending: list[tuple[int, str, str, str]] = []
        ids: list[int] = []
        for ref in columns.series:
            sid = known.get((tenant, ref.name, ref.key))
            if sid is None:
                sid = known[(tenant, ref.name, ref.key)] = self._next_series_id
                self._series_labels[sid] = ref.key
                self._next_series_id += 1
                self._uncommitted.add(sid)
            if sid in self._uncommitted:
                pending.append((sid, tenant, ref.name, ref.key))
            ids.append(sid)
        return np.asarray(ids, dtype=np.int32)[columns.codes], pending

    def _metric_sql(self, index: int, q: MetricQuery) -> tuple[str, list[Any]]:
        """The SQL of one query, on its tenant's points table (which must exist)."""
        where = "s.tenant = ? AND s.name = ? AND p.ts >= ? AND p.ts < ?"
        params: list[Any] = [q.tenant, q.name, q.start_ms, q.end_ms]
        for key, value in q.labels:
            where += " AND json_extract_string(s.labels, ?) = ?"
            params += [_label_path(key), value]
        limit = self._max_points + 1
        source = f"{points_table(q.tenant)} p JOIN series s ON p.series_id = s.id"
        # a series is named by its id (labels looked up once per series, not per
        # point: a string per row is most of the cost of a big read); a group by
        # its labels JSON, with sid -1
        by_series = "s.id AS sid, NULL::VARCHAR AS grp"
        if q.aggregation is None and q.step_ms is None and q.group_by is None:
            sql = (
                f"SELECT {index} AS q, {by_series}, p.ts AS ts, p.value AS value "
                f"FROM {source} WHERE {where} LIMIT {limit}"
            )
            return sql, params
        agg = _AGG_SQL[q.aggregation or Aggregation.AVG]
        step = q.step_ms or max(q.end_ms - q.start_ms, 1)
        grp_params: list[Any] = []
        if q.group_by is None:
            grp = by_series
        elif not q.group_by:
            grp = "-1 AS sid, '{}' AS grp"
        else:
            parts = ", ".join("?, json_extract_string(s.labels, ?)" for _ in q.group_by)
            grp = f"-1 AS sid, json_object({parts})::VARCHAR AS grp"
            grp_params = [x for key in q.group_by for x in (key, _label_path(key))]
        bucket = f"(? + ((ts - ?) // {int(step)}) * {int(step)})"
        origin = q.start_ms if q.step_ms is None else 0
        sql = (
            f"SELECT {index} AS q, {grp}, {bucket} AS ts, {agg} AS value "
            f"FROM {source} WHERE {where} GROUP BY 2, 3, 4 LIMIT {limit}"
        )
        return sql, [*grp_params, origin, origin, *params]

    async def query_many(self, queries: Sequence[MetricQuery]) -> list[list[Series]]:
        if not queries:
            return []
        return await self._run("query_points", self._points_reader(queries))

    async def read_if_light(
        self, queries: Sequence[MetricQuery], light: Callable[[list[int]], bool]
    ) -> tuple[list[int], list[list[Series]] | None]:
        """One call (one pool thread hop, counted as `query_points`): a light read
        waits for its turn on the event loop once, not twice; under a neighbour's load
        every turn is a wait."""
        if not queries:
            return [], []
        count, read = _series_counter(queries), self._points_reader(queries)

        def run(cur: duckdb.DuckDBPyConnection) -> tuple[list[int], list[list[Series]] | None]:
            counts = count(cur)
            return counts, (read(cur) if light(counts) else None)

        return await self._run("query_points", run)

    def _points_reader(
        self, queries: Sequence[MetricQuery]
    ) -> Callable[[duckdb.DuckDBPyConnection], list[list[Series]]]:
        # a tenant that never wrote a point has no table, and no series either
        parts = [
            self._metric_sql(i, q)
            for i, q in enumerate(queries)
            if points_table(q.tenant) in self._point_tables
        ]
        sql = " UNION ALL ".join(f"({s})" for s, _ in parts) + " ORDER BY q, sid, grp, ts"
        params = [p for _, ps in parts for p in ps]

        def read(cur: duckdb.DuckDBPyConnection) -> list[list[Series]]:
            if not parts:
                return [[] for _ in queries]
            cols = _fetch_columns(cur, sql, params)
            if len(cols["q"]) > self._max_points:
                raise QueryTooComplex(
                    f"the request would return more than {self._max_points} points; "
                    "narrow the time range or use a coarser step",
                    limit=self._max_points,
                )
            # cut into series on the pool thread too: for a big read that is tens of
            # milliseconds the event loop would otherwise spend away from other tenants
            return _split_series(queries, cols, self._series_labels)

        return read

    async def metric_names(self, tenant: str, prefix: str | None) -> list[str]:
        def read(cur: duckdb.DuckDBPyConnection) -> list[str]:
            rows = cur.execute(
                "SELECT DISTINCT name FROM series WHERE tenant = ? "
                "AND starts_with(name, ?) ORDER BY name",
                [tenant, prefix or ""],
            ).fetchall()
            return [r[0] for r in rows]

        return await self._run("metric_names", read)

    async def label_values(self, tenant: str, metric: str, label: str) -> list[str]:
        [values] = await self.label_values_many([LabelValuesQuery(tenant, metric, label)])
        return values

    async def label_names(self, tenant: str, metric: str) -> list[str]:
        def read(cur: duckdb.DuckDBPyConnection) -> list[str]:
            rows = cur.execute(
                "SELECT DISTINCT k FROM (SELECT unnest(json_keys(labels)) AS k FROM series "
                "WHERE tenant = ? AND name = ?) ORDER BY k",
                [tenant, metric],
            ).fetchall()
            return [r[0] for r in rows]

        return await self._run("label_names", read)

    async def series_count_many(self, queries: Sequence[MetricQuery]) -> list[int]:
        """One statement: a `UNION ALL` of one count per query, over the series table."""
        if not queries:
            return []
        return await self._run("series_count", _series_counter(queries))

    async def label_values_many(self, queries: Sequence[LabelValuesQuery]) -> list[list[str]]:
        """One statement: a `UNION ALL` of one `SELECT DISTINCT` per query."""
        if not queries:
            return []
        parts = [
            f"SELECT {i} AS q, v FROM (SELECT DISTINCT json_extract_string(labels, ?) AS v "
            "FROM series WHERE tenant = ? AND name = ?) WHERE v IS NOT NULL"
            for i in range(len(queries))
        ]
        params = [p for q in queries for p in (_label_path(q.label), q.tenant, q.metric)]

        def read(cur: duckdb.DuckDBPyConnection) -> list[list[str]]:
            rows = cur.execute(" UNION ALL ".join(parts), params).fetchall()
            answers: list[list[str]] = [[] for _ in queries]
            for index, value in rows:
                answers[index].append(value)
            return [sorted(values) for values in answers]

        return await self._run("label_values", read)

    # -- events ----------------------------------------------------------

    async def write_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        table = pa.table(
            {
                "tenant": pa.array([e.tenant for e in events], pa.string()),
                "id": pa.array([e.event_id for e in events], pa.string()),
                "type": pa.array([e.type for e in events], pa.string()),
                "user_id": pa.array([e.user_id for e in events], pa.string()),
                "ts": pa.array([e.timestamp_ms for e in events], pa.int64()),
                "metadata": pa.array(
                    [json.dumps(dict(e.metadata), separators=(",", ":")) for e in events],
                    pa.string(),
                ),
            }
        )

        digest = hashlib.blake2b(b"events\x1f", digest_size=16)
        for event in events:  # ids are the events' identity (hashes of them, when timed)
            digest.update(f"{event.tenant}\x1f{event.event_id}\x1e".encode())
        fingerprint = digest.digest()

        tenants = sorted({e.tenant for e in events})

        def write(cur: duckdb.DuckDBPyConnection) -> None:
            with self._write_lock:
                cur.execute("BEGIN TRANSACTION")
                cur.register("incoming_events", table)
                try:
                    first = self._first_write(cur, fingerprint)  # False: a retry, stored
                    for tenant in tenants if first else []:
                        name = events_table(tenant)
                        if name not in self._event_tables:
                            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} ({_EVENTS_COLUMNS})")
                        insert = f"INSERT INTO {name} SELECT * FROM incoming_events"
                        cur.execute(insert + " WHERE tenant = ?", [tenant])
                    cur.execute("COMMIT")
                    if first:  # committed: reads may name them
                        self._event_tables.update(events_table(t) for t in tenants)
                except Exception:
                    cur.execute("ROLLBACK")
                    raise
                finally:
                    cur.unregister("incoming_events")

        await self._run("write_events", write)

    async def query_events(self, query: EventQuery) -> list[Event]:
        where = "tenant = ?"
        params: list[Any] = [query.tenant]
        for column, value in (("type", query.type), ("user_id", query.user_id)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        if query.start_ms is not None:
            where += " AND ts >= ?"
            params.append(query.start_ms)
        if query.end_ms is not None:
            where += " AND ts < ?"
            params.append(query.end_ms)
        if query.after is not None:
            where += " AND (ts < ? OR (ts = ? AND id < ?))"
            params += [query.after[0], query.after[0], query.after[1]]
        sql = (
            f"SELECT id, type, user_id, ts, metadata FROM {self._events_of(query.tenant)} "
            f"WHERE {where} ORDER BY ts DESC, id DESC LIMIT {int(query.limit)}"
        )

        def read(cur: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
            return cur.execute(sql, params).fetchall()

        rows = await self._run("query_events", read)
        return [Event(query.tenant, r[0], r[1], r[2], int(r[3]), json.loads(r[4])) for r in rows]

    async def count_events_many(self, queries: Sequence[EventCountQuery]) -> list[list[Series]]:
        if not queries:
            return []
        parts: list[str] = []
        params: list[Any] = []
        for i, q in enumerate(queries):
            if q.group_by:
                grp = "json_object(?, json_extract_string(metadata, ?))::VARCHAR"
                params += [q.group_by, _label_path(q.group_by)]
            else:
                grp = "'{}'"
            step = int(q.step_ms)
            parts.append(
                f"(SELECT {i} AS q, {grp} AS grp, (ts // {step}) * {step} AS ts, "
                f"count(*)::DOUBLE AS value FROM {self._events_of(q.tenant)} "
                "WHERE tenant = ? AND type = ? AND ts >= ? AND ts < ? GROUP BY 2, 3)"
            )
            params += [q.tenant, q.type, q.start_ms, q.end_ms]
        sql = " UNION ALL ".join(parts) + " ORDER BY q, grp, ts"

        names = [q.type for q in queries]

        def read(cur: duckdb.DuckDBPyConnection) -> list[list[Series]]:
            return _split_columns(len(queries), names, _fetch_columns(cur, sql, params))

        return await self._run("count_events", read)

    async def events_in_range(self, tenant: str, start_ms: int, end_ms: int) -> int:
        table = self._events_of(tenant)

        def read(cur: duckdb.DuckDBPyConnection) -> int:
            row = cur.execute(
                f"SELECT count(*) FROM {table} WHERE tenant = ? AND ts >= ? AND ts < ?",
                [tenant, int(start_ms), int(end_ms)],
            ).fetchone()
            return int(row[0]) if row else 0

        return await self._run("events_in_range", read)

    async def event_types(self, tenant: str, limit: int) -> list[str]:
        table = self._events_of(tenant)

        def read(cur: duckdb.DuckDBPyConnection) -> list[str]:
            rows = cur.execute(
                f"SELECT DISTINCT type FROM {table} WHERE tenant = ? ORDER BY type LIMIT ?",
                [tenant, int(limit)],
            ).fetchall()
            return [r[0] for r in rows]

        return await self._run("event_types", read)

    def _events_of(self, tenant: str) -> str:
        """The table of `tenant`'s events; the shared one, always empty, when it has none."""
        table = events_table(tenant)
        return table if table in self._event_tables else SHARED_EVENTS

    def behaviour(self) -> DuckDBBehaviour:
        """Retention over this file's events, one statement on this store's pool."""
        return DuckDBBehaviour(lambda read: self._run("count_events", read), self._events_of)

    def engagement(self) -> DuckDBEngagement:
        """Active users and top values, one statement on this store's pool."""
        return DuckDBEngagement(lambda read: self._run("count_events", read), self._events_of)

    def features(self) -> DuckDBFeatures:
        """Per-user activity, one statement on this store's pool."""
        return DuckDBFeatures(lambda read: self._run("count_events", read), self._events_of)

    def journeys(self) -> DuckDBJourneys:
        """Sessions, paths and new users, one statement each on this store's pool."""
        return DuckDBJourneys(lambda read: self._run("count_events", read), self._events_of)

    async def delete_events(self, tenant: str, user_ids: Sequence[str]) -> int:
        """One statement; what it deleted is gone for the next read."""
        if not user_ids:
            return 0
        marks = ", ".join("?" for _ in user_ids)
        sql = f"DELETE FROM {self._events_of(tenant)} WHERE tenant = ? AND user_id IN ({marks})"
        return await self._delete("delete_events", sql, [tenant, *user_ids])

    async def delete_events_before(self, tenant: str, before_ms: int, limit: int) -> int:
        table = self._events_of(tenant)
        sql = (
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
            f"WHERE tenant = ? AND ts < ? LIMIT {int(limit)})"
        )
        return await self._delete("retention", sql, [tenant, before_ms])

    async def delete_points_before(self, tenant: str, before_ms: int, limit: int) -> int | None:
        table = points_table(tenant)
        if table not in self._point_tables:
            return 0
        sql = (
            f"DELETE FROM {table} WHERE rowid IN (SELECT p.rowid FROM {table} p "
            "JOIN series s ON p.series_id = s.id "
            f"WHERE s.tenant = ? AND p.ts < ? LIMIT {int(limit)})"
        )
        return await self._delete("retention", sql, [tenant, before_ms])

    async def _delete(self, operation: Operation, sql: str, params: list[Any]) -> int:
        def delete(cur: duckdb.DuckDBPyConnection) -> int:
            with self._write_lock:
                row = cur.execute(sql, params).fetchone()
            return int(row[0]) if row else 0

        return await self._run(operation, delete)

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._conn.close()


def _split_shared_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Move a file's points and events from the shared tables of before into each
    tenant's tables, in one transaction: a failure leaves the file as it was."""
    points = conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'points'")
    has_points = bool((points.fetchone() or (0,))[0])
    events = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {SHARED_EVENTS} LIMIT 1)")
    has_events = bool((events.fetchone() or (0,))[0])
    if not has_points and not has_events:
        return
    conn.execute("BEGIN TRANSACTION")
    try:
        if has_points:
            tenants = [r[0] for r in conn.execute("SELECT DISTINCT tenant FROM series").fetchall()]
            for tenant in tenants:
                table = points_table(tenant)
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({_POINTS_COLUMNS})")
                conn.execute(
                    f"INSERT INTO {table} SELECT p.series_id, p.ts, p.value FROM points p "
                    "JOIN series s ON p.series_id = s.id WHERE s.tenant = ?",
                    [tenant],
                )
            conn.execute("DROP TABLE points")
        if has_events:
            sql = f"SELECT DISTINCT tenant FROM {SHARED_EVENTS}"
            for (tenant,) in conn.execute(sql).fetchall():
                table = events_table(tenant)
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({_EVENTS_COLUMNS})")
                conn.execute(
                    f"INSERT INTO {table} SELECT * FROM {SHARED_EVENTS} WHERE tenant = ?",
                    [tenant],
                )
            conn.execute(f"DELETE FROM {SHARED_EVENTS}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def _series_hash(name: str, key: str) -> int:
    digest = hashlib.blake2b(f"{name}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest)


def batch_fingerprint(tenant: str, columns: BatchColumns) -> bytes:
    """What identifies a batch's content, point by point in order: its tenant, and
    each point's series, time and value. A retried batch has the same one."""
    series = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(f"{ref.name}\0{ref.key}".encode(), digest_size=8).digest()
            )
            for ref in columns.series
        ],
        dtype=np.uint64,
    )
    digest = hashlib.blake2b(tenant.encode(), digest_size=16)
    digest.update(series[np.asarray(columns.codes)].tobytes())
    digest.update(np.ascontiguousarray(columns.timestamps, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(columns.values, dtype=np.float64).tobytes())
    return digest.digest()


def _series_counter(
    queries: Sequence[MetricQuery],
) -> Callable[[duckdb.DuckDBPyConnection], list[int]]:
    """How many series each query matches: a `UNION ALL` of one count per query."""
    parts: list[str] = []
    params: list[Any] = []
    for i, q in enumerate(queries):
        where = "tenant = ? AND name = ?"
        params += [q.tenant, q.name]
        for key, value in q.labels:
            where += " AND json_extract_string(labels, ?) = ?"
            params += [_label_path(key), value]
        parts.append(f"SELECT {i} AS q, count(*) AS n FROM series WHERE {where}")
    sql = " UNION ALL ".join(parts)

    def count(cur: duckdb.DuckDBPyConnection) -> list[int]:
        counts = [0] * len(queries)
        for index, n in cur.execute(sql, params).fetchall():
            counts[int(index)] = int(n)
        return counts

    return count


def _fetch_columns(
    cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]
) -> dict[str, np.ndarray[Any, Any]]:
    """A read's columns as numpy arrays, by way of Arrow: numbers are copied without
    the interpreter lock, where `fetchnumpy` held it for most of a big read (a masked
    object array for a column of nulls, a Python object per row), and every other
    thread, the event loop's included, waited. A column with no value at all (`grp`
    of a read by series) is left out; nulls of a number column become NaN."""
    table = cur.sql(sql, params=list(params)).to_arrow_table()
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for name in table.column_names:
        column = table.column(name)
        if column.null_count == len(column) and pa.types.is_string(column.type):
            continue
        columns[name] = column.to_numpy()
    return columns


def _split_series(
    queries: Sequence[MetricQuery],
    cols: dict[str, np.ndarray[Any, Any]],
    labels_of: Mapping[int, str],
) -> list[list[Series]]:
    return _split_columns(len(queries), [q.name for q in queries], cols, labels_of)


def _split_columns(
    count: int,
    names: Sequence[str],
    cols: dict[str, np.ndarray[Any, Any]],
    labels_of: Mapping[int, str] | None = None,
) -> list[list[Series]]:
    """Cut the ordered (q, [sid,] [grp,] ts, value) columns of `_fetch_columns` into
    series per query.

    A row with a series id (`sid` >= 0) has the labels `labels_of[sid]`; any
    other row has its group's labels JSON in `grp`. Each query's series come
    ordered by that labels JSON.
    """
    keyed: list[list[tuple[str, Series]]] = [[] for _ in range(count)]
    q_col = np.asarray(cols["q"])
    n = len(q_col)
    if n == 0:
        return [[] for _ in range(count)]
    sid_col = np.asarray(cols["sid"], dtype=np.int64) if "sid" in cols else np.full(n, -1)
    values = np.asarray(cols["value"], dtype=np.float64)  # nulls are NaN already
    timestamps = np.asarray(cols["ts"], dtype=np.int64)
    changed = (q_col[1:] != q_col[:-1]) | (sid_col[1:] != sid_col[:-1])
    grouped = sid_col < 0
    grp_col = np.asarray(cols["grp"], dtype=object) if grouped.any() else None
    if grp_col is not None:  # strings compared only where there are groups
        changed |= grouped[1:] & (grp_col[1:] != grp_col[:-1])
    bounds = [0, *(np.flatnonzero(changed) + 1).tolist(), n]
    has_nan = bool(np.isnan(values).any())  # an aggregate with no defined value
    for start, end in itertools.pairwise(bounds):
        qi = int(q_col[start])
        sid = int(sid_col[start])
        if sid >= 0 and labels_of is not None:
            key = labels_of[sid]
        else:
            assert grp_col is not None  # a row without a series id is a group's
            key = grp_col[start]
        labels = {k: str(v) for k, v in json.loads(key).items() if v is not None}
        ts = timestamps[start:end]
        vs = values[start:end]
        if has_nan:
            keep = ~np.isnan(vs)
            ts, vs = ts[keep], vs[keep]
        # numpy columns, not lists: see `Series`
        keyed[qi].append((key, Series(names[qi], labels, ts, vs)))
    return [[s for _, s in sorted(found, key=lambda pair: pair[0])] for found in keyed]
