"""Redis `ConfigStore`: API keys shared by every replica and the CLI, revoked at once.

Configuration lives in per-tenant JSON documents grouped by kind, so alert
rules and dashboards can later sit beside API keys in the same layout:

    ag:doc:<kind>:<tenant>    HASH  document id -> JSON document
    ag:tenants:<kind>         SET   tenants that hold documents of this kind
    ag:ref:<kind>:<name>      HASH  unique value -> "<doc hash key>\\n<document id>"

One hash per (kind, tenant) keeps a tenant's documents under one key whose
name carries the tenant (percent-encoded), so reading them needs the tenant
and listing them is one `HVALS`. Refs are unique lookups across tenants: an
API key is found by its secret's hash (`ref:api_key:secret`) on every request
and by its id (`ref:api_key:id`) when revoked. Creating a document checks and
writes the document, the tenant set and its refs in one Lua script (atomic);
changing one is a WATCH/MULTI/EXEC read-modify-write. Lookups by ref read a
key named by the ref, so the store needs standalone (or Sentinel-managed)
Redis, not Redis Cluster.

Persistence: this is the only copy of the keys, so production Redis must run
with `appendonly yes` and `appendfsync everysec` (at most about a second of
writes lost if the machine crashes) or `appendfsync always` (none lost).
RDB snapshots alone (`save ...`) lose every change since the last snapshot:
keys created since then vanish, and, worse, keys revoked since then come
back valid after a restart. Use `maxmemory-policy noeviction` (or a
`volatile-*` policy: these documents carry no TTL) so nothing is evicted.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from analytics_gateway.backends.base import (
    AuditRecord,
    AuditSeal,
    DocumentWrite,
    new_version,
    stale_version,
)
from analytics_gateway.backends.redis_audit import RedisAudit
from analytics_gateway.domain import (
    SCOPES_VERSION,
    ApiKeyRecord,
    Scope,
    superseded,
    upgraded_scopes,
)
from analytics_gateway.errors import BackendUnavailable, Conflict

Document = dict[str, Any]

_KIND = re.compile(r"[a-z][a-z0-9_]*")

# KEYS: doc hash, tenant set, ref hashes...; ARGV: id, document, tenant, ref target, ref values...
_CREATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
for i = 3, #KEYS do
  if redis.call('HEXISTS', KEYS[i], ARGV[i + 2]) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
for i = 3, #KEYS do redis.call('HSET', KEYS[i], ARGV[i + 2], ARGV[4]) end
return 1
"""

# KEYS: ref hash; ARGV: ref value. Returns the document or nil.
_FIND = """
local target = redis.call('HGET', KEYS[1], ARGV[1])
if not target then return false end
local cut = string.find(target, '\\n', 1, true)
return redis.call('HGET', string.sub(target, 1, cut - 1), string.sub(target, cut + 1))
"""


# Versioned documents: KEYS: doc hash, tenant set; ARGV: id, JSON, expected version or "", tenant.
# Values are "<version>\n<json>". Returns the new version, or -1 - current on a conflict.
_PUT_VERSIONED = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local current = 0
if raw then current = tonumber(string.match(raw, '^(%d+)')) end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= current then return -1 - current end
redis.call('HSET', KEYS[1], ARGV[1], (current + 1) .. '\\n' .. ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return current + 1
"""

# KEYS: last-used hash, id refs; ARGV: key id, epoch ms, ... Keeps the latest time of
# each key that exists.
_TOUCH = """
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    local seen = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
    if seen < tonumber(ARGV[i + 1]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  end
end
return 0
"""

# KEYS: doc hash, tenant set; ARGV: id, tenant. Returns 1 if a document was deleted.
_DELETE_VERSIONED = """
local deleted = redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return deleted
"""


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise BackendUnavailable("config store (redis) is unavailable", backend="config") from exc


class RedisDocuments:
    """Per-tenant JSON documents by kind, with optional unique refs across tenants."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ag:") -> None:
        self._client = client
        self._prefix = prefix
        self._create = client.register_script(_CREATE)
        self._find = client.register_script(_FIND)

    def _docs_key(self, kind: str, tenant: str) -> str:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"document kind {kind!r} must match {_KIND.pattern}")
        return f"{self._prefix}doc:{kind}:{quote(tenant, safe='')}"

    def _tenants_key(self, kind: str) -> str:
        return f"{self._prefix}tenants:{kind}"

    def _ref_key(self, kind: str, name: str) -> str:
        return f"{self._prefix}ref:{kind}:{name}"

    async def create(
        self,
        kind: str,
        tenant: str,
        doc_id: str,
        document: Mapping[str, Any],
        refs: Mapping[str, str] | None = None,
    ) -> bool:
        """Store a new document; False, storing nothing, if its id or a ref value is taken."""
        docs_key = self._docs_key(kind, tenant)
        refs = refs or {}
        keys = [docs_key, self._tenants_key(kind), *(self._ref_key(kind, n) for n in refs)]
        target = f"{docs_key}\n{doc_id}"
        args: list[str | bytes] = [doc_id, orjson.dumps(document), tenant, target, *refs.values()]
        with _unavailable():
            return bool(await self._create(keys=keys, args=args))

    async def get(self, kind: str, tenant: str, doc_id: str) -> Document | None:
        with _unavailable():
            raw = await self._client.hget(self._docs_key(kind, tenant), doc_id)
        return None if raw is None else _load(raw)

    async def find(self, kind: str, ref: str, value: str) -> Document | None:
        """The document whose ref `ref` is `value`, in one round trip."""
        with _unavailable():
            raw = await self._find(keys=[self._ref_key(kind, ref)], args=[value])
        return None if raw is None else _load(raw)

    async def list(self, kind: str, tenant: str | None = None) -> list[Document]:
        """One tenant's documents, or (for operators) every tenant's."""
        with _unavailable():
            if tenant is not None:
                tenants = [tenant]
            else:
                members = await self._client.smembers(self._tenants_key(kind))
                tenants = sorted(_text(m) for m in members)
            async with self._client.pipeline(transaction=False) as pipe:
                for name in tenants:
                    pipe.hvals(self._docs_key(kind, name))
                found: list[list[bytes]] = await pipe.execute()
        return [_load(raw) for values in found for raw in values]

    async def update(
        self, kind: str, tenant: str, doc_id: str, change: Callable[[Document], Document]
    ) -> bool:
        """Replace a document by `change(document)` atomically; False if it does not exist."""
        docs_key = self._docs_key(kind, tenant)

        async def apply(pipe: Pipeline) -> bool:
            raw = await pipe.hget(docs_key, doc_id)
            if raw is None:
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(docs_key, doc_id, orjson.dumps(change(_load(raw))))
            return True

        with _unavailable():
            updated: bool = await self._client.transaction(
                apply, docs_key, value_from_callable=True
            )
        return updated

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()


def _load(raw: bytes | str) -> Document:
    document: Document = orjson.loads(raw)
    return document


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


_API_KEY = "api_key"


def _document(record: ApiKeyRecord, secret_hash: str) -> Document:
    return {
        "key_id": record.key_id,
        "tenant": record.tenant,
        "scopes": sorted(record.scopes),
        "created_at_ms": record.created_at_ms,
        "revoked": record.revoked,
        "description": record.description,
        "secret_hash": secret_hash,
        "scopes_version": SCOPES_VERSION,
        "expires_at_ms": record.expires_at_ms,
    }


def _record(document: Document, last_used_at_ms: int | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=document["key_id"],
        tenant=document["tenant"],
        scopes=upgraded_scopes(
            frozenset(Scope(s) for s in document["scopes"]), document.get("scopes_version", 1)
        ),
        created_at_ms=document["created_at_ms"],
        revoked=document["revoked"],
        description=document["description"],
        expires_at_ms=document.get("expires_at_ms"),
        last_used_at_ms=last_used_at_ms,
        previous_until_ms=document.get("previous_until_ms"),
    )


class RedisConfigStore:
    """API keys as `api_key` documents with refs `id` and `secret` (the key's hash, and
    during a rotation's grace the replaced one's too); when each was last used in the
    hash `<prefix>api_key_used` (key id -> epoch ms), apart from the documents so that
    noting a use never rewrites one."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ag:") -> None:
        self.documents = RedisDocuments(client, prefix)
        self._client = client
        self._versioned = RedisDocuments(client, prefix + "v:")
        self._put_versioned = client.register_script(_PUT_VERSIONED)
        self._delete_versioned = client.register_script(_DELETE_VERSIONED)
        self.audit = RedisAudit(client, prefix)
        self._touch = client.register_script(_TOUCH)
        self._used_key = f"{prefix}api_key_used"

    async def create_key(self, record: ApiKeyRecord, secret_hash: str) -> None:
        created = await self.documents.create(
            _API_KEY,
            record.tenant,
            record.key_id,
            _document(record, secret_hash),
            refs={"id": record.key_id, "secret": secret_hash},
        )
        if not created:
            raise BackendUnavailable(
                "config store (redis): an API key with this id or hash exists", backend="config"
            )

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        document = await self.documents.find(_API_KEY, "secret", secret_hash)
        if document is None:
            return None
        if document["secret_hash"] == secret_hash:
            return _record(document)
        if document.get("previous_hash") == secret_hash:
            return superseded(_record(document), by_previous_secret=True)
        return None  # a ref a rotation left behind

    async def list_keys(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        documents = await self.documents.list(_API_KEY, tenant)
        used: list[bytes | str | None] = []
        if documents:
            with _unavailable():
                used = await self._client.hmget(self._used_key, [d["key_id"] for d in documents])
        records = [
            _record(d, None if at is None else int(at))
            for d, at in zip(documents, used, strict=True)
        ]
        return sorted(records, key=lambda r: (r.created_at_ms, r.key_id))

    async def rotate_key(
        self, key_id: str, secret_hash: str, previous_until_ms: int
    ) -> ApiKeyRecord | None:
        found = await self.documents.find(_API_KEY, "id", key_id)
        if found is None:
            return None
        docs_key = self.documents._docs_key(_API_KEY, found["tenant"])
        refs = self.documents._ref_key(_API_KEY, "secret")

        async def apply(pipe: Pipeline) -> Document | None:
            raw = await pipe.hget(docs_key, key_id)
            if raw is None:
                return None
            document = _load(raw)
            dropped = document.get("previous_hash")
            changed = {
                **document,
                "secret_hash": secret_hash,
                "previous_hash": document["secret_hash"],
                "previous_until_ms": previous_until_ms,
            }
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(docs_key, key_id, orjson.dumps(changed))
            pipe.hset(refs, secret_hash, f"{docs_key}\n{key_id}")
            if dropped:
                pipe.hdel(refs, dropped)
            return changed

        with _unavailable():
            rotated: Document | None = await self._client.transaction(
                apply, docs_key, refs, value_from_callable=True
            )
        return None if rotated is None else _record(rotated)

    async def touch_keys(self, used_at_ms: Mapping[str, int]) -> None:
        if not used_at_ms:
            return
        args = [str(item) for pair in used_at_ms.items() for item in pair]
        ids = self.documents._ref_key(_API_KEY, "id")
        with _unavailable():
            await self._touch(keys=[self._used_key, ids], args=args)

    async def revoke_key(self, key_id: str) -> bool:
        document = await self.documents.find(_API_KEY, "id", key_id)
        if document is None:
            return False
        return await self.documents.update(
            _API_KEY, document["tenant"], key_id, lambda d: {**d, "revoked": True}
        )

    # -- versioned documents: "<version>\n<json>" in the hash of (kind, tenant) --

    def _keys(self, kind: str, tenant: str) -> list[str]:
        # private methods of the layer give the key names; same layout as api keys
        return [self._versioned._docs_key(kind, tenant), self._versioned._tenants_key(kind)]

    async def put_document(
        self,
        kind: str,
        tenant: str,
        doc_id: str,
        document: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> int:
        expected = "" if expected_version is None else str(expected_version)
        with _unavailable():
            result = int(
                await self._put_versioned(
                    keys=self._keys(kind, tenant),
                    args=[doc_id, orjson.dumps(document), expected, tenant],
                )
            )
        return new_version(_put_outcome(kind, doc_id, expected_version, result))

    async def put_documents(
        self, kind: str, tenant: str, items: Sequence[DocumentWrite]
    ) -> list[int | Conflict]:
        if not items:
            return []
        keys = self._keys(kind, tenant)
        with _unavailable():
            async with self._client.pipeline(transaction=False) as pipe:
                for doc_id, document, expected in items:
                    await self._put_versioned(
                        keys=keys,
                        args=[doc_id, orjson.dumps(document), "" if expected is None else expected,
                              tenant],
                        client=pipe,
                    )  # fmt: skip
                results = await pipe.execute()
        return [
            _put_outcome(kind, doc_id, expected, int(result))
            for (doc_id, _, expected), result in zip(items, results, strict=True)
        ]

    async def get_document(
        self, kind: str, tenant: str, doc_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        with _unavailable():
            raw = await self._client.hget(self._keys(kind, tenant)[0], doc_id)
        return None if raw is None else _versioned(raw)

    async def list_documents(self, kind: str, tenant: str) -> list[tuple[str, int, dict[str, Any]]]:
        with _unavailable():
            found: dict[bytes | str, bytes | str] = await self._client.hgetall(
                self._keys(kind, tenant)[0]
            )
        return sorted((_text(k), *_versioned(v)) for k, v in found.items())

    async def delete_document(self, kind: str, tenant: str, doc_id: str) -> bool:
        with _unavailable():
            deleted = await self._delete_versioned(
                keys=self._keys(kind, tenant), args=[doc_id, tenant]
            )
        return bool(deleted)

    async def document_tenants(self, kind: str) -> list[str]:
        with _unavailable():
            members = await self._client.smembers(self._keys(kind, "")[1])
        return sorted(_text(m) for m in members)

    # -- audit chains: one Stream per tenant, see `redis_audit` --

    async def append_audit(self, tenant: str, seal: AuditSeal) -> str:
        with _unavailable():
            try:
                return await self.audit.append(tenant, seal)
            except RuntimeError as exc:
                raise BackendUnavailable(str(exc), backend="config") from exc

    async def audit_entries(
        self,
        tenant: str,
        *,
        after: str | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        with _unavailable():
            return await self.audit.entries(tenant, after, limit, newest_first)

    async def audit_ends(self, tenant: str) -> tuple[str, str]:
        with _unavailable():
            return await self.audit.ends(tenant)

    async def trim_audit(self, tenant: str, before_ms: int, limit: int = 1000) -> int:
        with _unavailable():
            return await self.audit.trim(tenant, before_ms, limit)

    async def audit_tenants(self) -> list[str]:
        with _unavailable():
            return await self.audit.tenants()

    async def close(self) -> None:
        await self.documents.close()


def _versioned(raw: bytes | str) -> tuple[int, dict[str, Any]]:
    version, _, body = _text(raw).partition("\n")
    return int(version), _load(body)


def _put_outcome(kind: str, doc_id: str, expected: int | None, result: int) -> int | Conflict:
    """The new version from `_PUT_VERSIONED`, or the conflict its negative answer means."""
    return result if result >= 0 else stale_version(kind, doc_id, -1 - result, expected)
