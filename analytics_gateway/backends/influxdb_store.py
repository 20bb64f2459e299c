"""Metric store on InfluxDB (decision 7): line protocol in, InfluxQL out, over HTTP.

Only the v1 endpoints are used (`/write`, `/query`), which InfluxDB 1.x
serves natively and 2.x/3.x serve for compatibility, so one backend covers
all three. Its behaviour follows the embedded store (`duckdb_store`); what
InfluxDB cannot express is computed here (see `influxql`).

Tenants share one database and are told apart by the `@tenant` tag. A tag
rather than a database per tenant, because databases need admin rights to
create and the URL names one database; and `@tenant`, because label names
never start with `@` (`validation.LABEL_KEY_RE`), so no label can collide
with it. Every statement, including SHOW MEASUREMENTS and SHOW TAG VALUES,
filters on it.

Writes are line protocol (`influx_lines`), gzipped except to loopback; every
acknowledged point is kept, even two of one series in the same millisecond.
HTTP goes through aiohttp rather than httpx: on the ingest path its client
costs about a third of the CPU per 250 KB write (0.5 ms against 1.2-1.7 ms
measured here), and at one request at a time that CPU is latency. A batch
larger than `chunk_points` is written as several requests at once; InfluxDB
has no transactions, so if one of them fails the others may be stored, and a
write that timed out may still be stored later. `query_many` sends all its
statements as ONE request, asking for MessagePack. Every request is one
call in `gateway_backend_calls_total` (`backends.calls`): `/write` as
`write_points`, `/query` as what it asks (`query_points`, `metric_names`,
`label_values`, or `setup` for CREATE DATABASE).

Where answers can differ from the embedded store: sums and averages by the
last bits (float addition in another order), `-0.0` comes back as `0.0`, and
P95/P99/RATE count the raw points they read against `max_points`.

URL: `influxdb://[user:password@]host[:8086]/database[?rp=policy&token=...]`,
`influxdb+https://...` for TLS (default port 443). A user and password are
sent as basic auth (1.x); `token=`, or a password without a user, as
`Authorization: Token ...` (2.x/3.x). The database is created on first use
where the credentials allow it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import aiohttp
import msgpack  # type: ignore[import-untyped]
import orjson

from analytics_gateway import tracing
from analytics_gateway.backends import influxql, read_budget
from analytics_gateway.backends.calls import BackendCalls, Operation
from analytics_gateway.backends.influx_lines import (
    LineEncoder,
    decode_tag_key,
    decode_tag_value,
)
from analytics_gateway.domain import LabelValuesQuery, MetricQuery, PointBatch, Series
from analytics_gateway.errors import (
    BackendTimeout,
    BackendUnavailable,
    BadUserInput,
    GatewayError,
    QueryTooComplex,
)
from analytics_gateway.validation import LABEL_KEY_RE

_LIMIT_ERRORS = ("max-select-point", "max-select-series", "max-select-buckets")
# MessagePack where the server offers it (1.x does): about half the server's encoding work
# of JSON, and cheaper to decode. Uncompressed: gzip costs the server more than a LAN saves.
_MSGPACK = "application/x-msgpack"
_QUERY_HEADERS = {"Accept": _MSGPACK, "Accept-Encoding": "identity"}  # servers without it: JSON


# points encoded on the event loop; bigger batches go to a thread to keep the loop free
_INLINE_ENCODE_MAX = 10_000

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class InfluxTarget:
    """Where the store talks to, read from an `influxdb://` URL."""

    base_url: str
    database: str
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    gzip: bool = True

    @classmethod
    def from_url(cls, url: str) -> InfluxTarget:
        parsed = urlparse(url)
        schemes = {"influxdb": ("http", 8086), "influxdb+https": ("https", 443)}
        if parsed.scheme not in schemes:
            raise ValueError(f"not an InfluxDB URL: {parsed.scheme}:// (use influxdb://)")
        protocol, default_port = schemes[parsed.scheme]
        prefix, _, database = parsed.path.rstrip("/").rpartition("/")
        if not parsed.hostname or not database:
            raise ValueError("InfluxDB URL needs a host and a database: influxdb://host:8086/db")
        params = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        unknown = set(params) - {"rp", "token", "gzip"}
        if unknown:
            raise ValueError(
                f"InfluxDB URL: unknown parameters {sorted(unknown)} (use rp, token, gzip)"
            )
        gzip = params.get("gzip", "auto").lower()
        if gzip not in ("auto", "true", "false"):
            raise ValueError("InfluxDB URL: gzip must be true, false or auto")
        username = unquote(parsed.username) if parsed.username else None
        password = unquote(parsed.password) if parsed.password else None
        token = params.get("token") or None
        if token and (username or password):
            raise ValueError("InfluxDB URL: give either user:password or ?token=, not both")
        if password and not username:
            token, password = password, None
        host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
        return cls(
            base_url=f"{protocol}://{host}:{parsed.port or default_port}{prefix}",
            database=unquote(database),
            retention_policy=params.get("rp") or None,
            username=username,
            password=password,
            token=token,
            # on loopback, compressing costs both ends CPU and saves no time
            gzip=gzip == "true" or (gzip == "auto" and parsed.hostname not in _LOOPBACK),
        )

    def headers(self) -> dict[str, str]:
        """Headers every request carries: basic auth for 1.x users, or the 2.x/3.x token."""
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {"Authorization": f"Token {self.token}"} if self.token else {}

    def session(self) -> aiohttp.ClientSession:
        """A connection pool to the server; call it on the event loop that will use it."""
        return aiohttp.ClientSession(
            headers=self.headers(),
            connector=aiohttp.TCPConnector(limit=32),
            cookie_jar=aiohttp.DummyCookieJar(),
        )


@dataclass(frozen=True)
class _Answer:
    """A response, read whole."""

    status: int
    content_type: str
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class InfluxDBStore:
    """Implements `MetricStore` on one InfluxDB database."""

    def __init__(
        self,
        target: InfluxTarget,
        *,
        timeout_seconds: float = 5.0,
        max_points: int = 1_000_000,
        chunk_points: int = 2500,
        calls: BackendCalls | None = None,
    ) -> None:
        self._target = target
        self._session: aiohttp.ClientSession | None = None
        self._database = target.database
        self._rp = target.retention_policy
        self._timeout = timeout_seconds
        self._max_points = max_points
        self._encoder = LineEncoder(chunk_points, compress_level=1 if target.gzip else 0)
        self._write_headers = {"Content-Type": "text/plain; charset=utf-8"}
        if target.gzip:
            self._write_headers["Content-Encoding"] = "gzip"
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="influx-lines")
        self._write_params = {"db": target.database, "precision": "ns"}
        if target.retention_policy:
            self._write_params["rp"] = target.retention_policy
        self._ready = False
        self._ready_lock = asyncio.Lock()
        calls = calls or BackendCalls()
        self._calls = calls.of("influxdb")
        self.breaker = calls.breaker("influxdb")

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout_seconds: float = 5.0,
        max_points: int = 1_000_000,
        calls: BackendCalls | None = None,
    ) -> InfluxDBStore:
        return cls(
            InfluxTarget.from_url(url),
            timeout_seconds=timeout_seconds,
            max_points=max_points,
            calls=calls,
        )

    def _source(self, measurement: str) -> str:
        if self._rp:
            return ".".join(map(influxql.ident, (self._database, self._rp, measurement)))
        return influxql.ident(measurement)

    # -- HTTP --------------------------------------------------------------

    async def _post(
        self,
        operation: Operation,
        path: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | bytes,
        headers: dict[str, str] | None = None,
    ) -> _Answer:
        """POST within the timeout; no answer, or a 5xx, means the store is unavailable.
        One call of `operation`, counted and traced."""
        with self._calls.call(operation):
            return await self._post_once(path, params, data, tracing.inject(dict(headers or {})))

    async def _post_once(
        self,
        path: str,
        params: dict[str, str] | None,
        data: dict[str, str] | bytes,
        headers: MutableMapping[str, str],
    ) -> _Answer:
        if self._session is None:
            self._session = self._target.session()
        async with self.breaker.call():
            try:
                async with (
                    asyncio.timeout(read_budget.timeout(self._timeout)),
                    self._session.post(
                        self._target.base_url + path, params=params, data=data, headers=headers
                    ) as response,
                ):
                    answer = _Answer(
                        response.status,
                        response.headers.get("Content-Type", ""),
                        await response.read(),
                    )
            except TimeoutError as exc:
                raise BackendTimeout("store (influxdb) timed out", backend="influxdb") from exc
            except aiohttp.ClientError as exc:
                raise BackendUnavailable(
                    f"store (influxdb) unreachable: {exc}", backend="influxdb"
                ) from exc
            if answer.status >= 500:
                raise BackendUnavailable(
                    f"store (influxdb) failed: {answer.status} {_error_text(answer)}",
                    backend="influxdb",
                )
            return answer

    async def _ensure_database(self) -> None:
        """CREATE DATABASE once (idempotent in 1.x); a refusal (no rights, 2.x) is fine."""
        if self._ready:
            return
        async with self._ready_lock:
            if not self._ready:
                statement = f"CREATE DATABASE {influxql.ident(self._database)}"
                await self._post("setup", "/query", data={"q": statement})
                self._ready = True

    async def _query(
        self, operation: Operation, statement: str, count: int = 1
    ) -> list[dict[str, Any]]:
        """Run `count` `;`-joined statements in one request; one result per statement."""
        await self._ensure_database()
        response = await self._post(
            operation,
            "/query",
            data={"q": statement, "db": self._database, "epoch": "ms"},
            headers=_QUERY_HEADERS,
        )
        body = _body(response)
        if response.status == 400:
            raise GatewayError(f"influxdb rejected the query: {body.get('error')}")
        if response.status != 200 or "error" in body:
            raise _refusal("query", response.status, str(body.get("error")))
        results: list[dict[str, Any]] = body.get("results") or []
        for result in results:
            error = result.get("error")
            if error is None:
                continue
            if any(limit in error for limit in _LIMIT_ERRORS):
                raise QueryTooComplex(f"influxdb refused the query: {error}")
            if "database not found" in error:
                self._ready = False  # dropped since: try to create it on the next call
            raise _refusal("query", response.status, error)
        if len(results) != count:
            raise GatewayError(f"influxdb answered {len(results)} of {count} statements")
        return results

    # -- MetricStore ---------------------------------------------------------

    async def write_batch(self, batch: PointBatch) -> None:
        if not batch:
            return
        try:
            if len(batch) <= _INLINE_ENCODE_MAX:  # ~1 ms: less than a thread hop costs
                bodies = self._encoder.encode(batch)
            else:
                bodies = await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._encoder.encode, batch
                )
        except ValueError as exc:
            raise BadUserInput(str(exc)) from exc
        await self._ensure_database()
        await asyncio.gather(*(self._write(body) for body in bodies))

    async def _write(self, body: bytes, *, retry: bool = True) -> None:
        response = await self._post(
            "write_points",
            "/write",
            params=self._write_params,
            data=body,
            headers=self._write_headers,
        )
        if response.status == 204:
            return
        message = _error_text(response)
        if response.status == 404 and "database not found" in message and retry:
            self._ready = False  # dropped since: create it again, once
            await self._ensure_database()
            await self._write(body, retry=False)
            return
        if response.status == 400:
            raise BadUserInput(f"influxdb refused the points: {message}")
        raise _refusal("write", response.status, message)

    async def query_many(self, queries: Sequence[MetricQuery]) -> list[list[Series]]:
        if not queries:
            return []
        plans = [influxql.plan(q, self._source(q.name), self._max_points + 1) for q in queries]
        statements = [p.statement for p in plans if p.statement is not None]
        if not statements:
            return [[] for _ in queries]
        results = iter(await self._query("query_points", ";".join(statements), len(statements)))
        answered = [next(results) if p.statement is not None else {} for p in plans]
        if sum(map(influxql.rows_of, answered)) > self._max_points:
            raise QueryTooComplex(
                f"the request would return more than {self._max_points} points; "
                "narrow the time range or use a coarser step",
                limit=self._max_points,
            )
        return [influxql.series_of(p, r) for p, r in zip(plans, answered, strict=True)]

    async def metric_names(self, tenant: str, prefix: str | None) -> list[str]:
        [result] = await self._query(
            "metric_names", influxql.metric_names_statement(self._database, tenant, prefix)
        )
        names = set(influxql.column(result, 0))
        return sorted(n for n in names if n.startswith(prefix or ""))

    async def label_values(self, tenant: str, metric: str, label: str) -> list[str]:
        [values] = await self.label_values_many([LabelValuesQuery(tenant, metric, label)])
        return values

    async def label_names(self, tenant: str, metric: str) -> list[str]:
        """`SHOW TAG KEYS` of the measurement on the tenant's series; the tenant tag is none."""
        statement = (
            f"SHOW TAG KEYS ON {influxql.ident(self._database)} FROM {self._source(metric)} "
            f"WHERE {influxql.tenant_condition(tenant)}"
        )
        [result] = await self._query("label_names", statement)
        keys = (decode_tag_key(k) for k in influxql.column(result, 0))
        return sorted({k for k in keys if k is not None})

    async def label_values_many(self, queries: Sequence[LabelValuesQuery]) -> list[list[str]]:
        """One request: a `SHOW TAG VALUES` statement per query, joined by `;`."""
        # no stored label has a name outside the rule: such a query reads nothing
        asked = [i for i, q in enumerate(queries) if LABEL_KEY_RE.match(q.label)]
        answers: list[list[str]] = [[] for _ in queries]
        if not asked:
            return answers
        statements = [
            influxql.label_values_statement(
                self._database, self._source(queries[i].metric), queries[i].tenant, queries[i].label
            )
            for i in asked
        ]
        results = await self._query("label_values", ";".join(statements), len(statements))
        for i, result in zip(asked, results, strict=True):
            answers[i] = sorted({decode_tag_value(v) for v in influxql.column(result, 1)})
        return answers

    async def series_count_many(self, queries: Sequence[MetricQuery]) -> list[int]:
        """One request: a `SHOW SERIES EXACT CARDINALITY` statement per query."""
        counts = [0] * len(queries)
        statements = {
            i: statement
            for i, q in enumerate(queries)
            if (statement := influxql.series_count_statement(q, self._source(q.name)))
        }
        if not statements:
            return counts
        results = await self._query("series_count", ";".join(statements.values()), len(statements))
        for i, result in zip(statements, results, strict=True):
            counts[i] = sum(int(n) for n in influxql.column(result, 0))
        return counts

    async def read_if_light(
        self, queries: Sequence[MetricQuery], light: Callable[[list[int]], bool]
    ) -> tuple[list[int], list[list[Series]] | None]:
        """Two requests: InfluxDB answers a count and a read in separate statements of
        different kinds, and a read's statements are built per query."""
        counts = await self.series_count_many(queries)
        return counts, (await self.query_many(queries) if light(counts) else None)

    async def delete_points_before(self, tenant: str, before_ms: int, limit: int) -> int | None:
        """One InfluxQL `DELETE` over every measurement, on the tenant's tag. InfluxDB
        neither bounds nor counts it (None); `limit` is for stores that can. 1.x only:
        the 2.x/3.x v1 endpoints refuse `DELETE` (the round logs it; a bucket retention
        period is their way)."""
        statement = (
            f"DELETE FROM /.*/ WHERE {influxql.tenant_condition(tenant)} "
            f"AND time < {int(before_ms)}ms"
        )
        await self._query("retention", statement)
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._executor.shutdown(wait=True)


def _body(response: _Answer) -> dict[str, Any]:
    """The decoded answer (MessagePack or JSON), or `{"error": ...}` if it is neither."""
    try:
        if response.content_type.startswith(_MSGPACK):
            body = msgpack.unpackb(response.content, use_list=False)
        else:
            body = orjson.loads(response.content)
    except (ValueError, msgpack.UnpackException):
        return {"error": response.text[:500] or f"HTTP {response.status}"}
    return body if isinstance(body, dict) else {"error": "unexpected response"}


def _refusal(action: str, status: int, message: str) -> BackendUnavailable:
    """A refusal the gateway cannot fix (credentials, missing database): report it."""
    if status in (401, 403):
        message = f"credentials refused ({status}): {message}"
    return BackendUnavailable(
        f"store (influxdb) refused the {action}: {message}", backend="influxdb"
    )


def _error_text(response: _Answer) -> str:
    return str(_body(response).get("error") or response.text[:500])
