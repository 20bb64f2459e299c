"""Keys verified lately, to authenticate from while the config store is unreachable.

Every authentication reads the key from the config store, so a revocation
applies at once wherever the store answers. When the store fails (down,
refusing, or slower than `ask_seconds`), a key it verified within the last
`remember_seconds` still passes: a five-second Redis blip no longer turns
every write and query into a 503. After a failure, requests stop asking the
store (a stalled one would make each wait `ask_seconds`); one background probe
asks it every `probe_seconds` instead, and the moment it answers, requests ask
it again. A key the store calls unknown or revoked is forgotten at once, so as
soon as the store is back its word is the one that counts: a key revoked while
this replica could not see the store is refused from then on.

`KeyUsage` keeps when each key was last used, off the request's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

from analytics_gateway.background import BackgroundTask
from analytics_gateway.domain import ApiKeyRecord
from analytics_gateway.errors import BackendUnavailable, GatewayError

log = logging.getLogger(__name__)

MAX_REMEMBERED = 100_000


class KeyLookup(Protocol):
    """What authentication reads keys from: the config store, or `KeyMemory` over it."""

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None: ...


class KeyMemory:
    """The config store's key lookup, remembering what it verified (see above)."""

    def __init__(
        self,
        store: KeyLookup,
        remember_seconds: float = 60.0,
        probe_seconds: float = 0.5,
        ask_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._remember = remember_seconds
        self._probe_every = probe_seconds
        self._ask = ask_seconds
        self._clock = clock
        self._verified: OrderedDict[str, tuple[float, ApiKeyRecord]] = OrderedDict()
        self._probe: asyncio.Task[None] | None = None

    @property
    def store_failing(self) -> bool:
        """Whether the store failed lately and has not answered since."""
        return self._probe is not None

    async def key_by_hash(self, secret_hash: str) -> ApiKeyRecord | None:
        """The store's record for the key, or a recent one if the store cannot say."""
        if self._probe is not None:
            return self._recent(secret_hash, None)
        try:
            record = await self._ask_store(secret_hash)
        except (BackendUnavailable, TimeoutError) as exc:
            log.warning("config store unreachable; keys verified lately still pass: %s", exc)
            if self._probe is None:
                self._probe = asyncio.create_task(self._until_back(secret_hash))
            return self._recent(secret_hash, exc)
        self._keep(secret_hash, record)
        return record

    async def until_store_answers(self) -> None:
        """Return once the store answers (at once if it has not failed)."""
        if self._probe is not None:
            await asyncio.shield(self._probe)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe

    async def _ask_store(self, secret_hash: str) -> ApiKeyRecord | None:
        async with asyncio.timeout(self._ask):
            return await self._store.key_by_hash(secret_hash)

    async def _until_back(self, secret_hash: str) -> None:
        try:
            while True:
                await asyncio.sleep(self._probe_every)
                try:
                    await self._ask_store(secret_hash)
                except (BackendUnavailable, TimeoutError):
                    continue
                log.info("config store answers again; keys are checked with it again")
                return
        finally:
            self._probe = None

    def _keep(self, secret_hash: str, record: ApiKeyRecord | None) -> None:
        if record is None or record.revoked:
            self._verified.pop(secret_hash, None)
            return
        self._verified[secret_hash] = (self._clock(), record)
        self._verified.move_to_end(secret_hash)
        while len(self._verified) > MAX_REMEMBERED:
            self._verified.popitem(last=False)

    def recent_tenant(self, secret_hash: str) -> str | None:
        """The tenant of a key verified within `remember_seconds`, else None."""
        found = self._verified.get(secret_hash)
        if found is None or self._clock() - found[0] > self._remember:
            return None
        return found[1].tenant

    def _recent(self, secret_hash: str, failure: BaseException | None) -> ApiKeyRecord:
        found = self._verified.get(secret_hash)
        if found is not None and self._clock() - found[0] <= self._remember:
            return found[1]
        raise BackendUnavailable(
            "config store is unavailable and this key was not verified lately",
            backend="config",
        ) from failure


class KeyToucher(Protocol):
    """Where `KeyUsage` writes: the config store."""

    async def touch_keys(self, used_at_ms: Mapping[str, int]) -> None: ...


class KeyUsage:
    """When each key was last used, written to the store at most once a minute per key.

    `note` is all a request pays: a dict lookup, and a dict write once a
    minute per key. A background task writes what was noted every
    `flush_seconds` in one store call; a failed write is dropped (the next use
    after a minute notes the key again): `last_used_at` is a hint, not a record.
    """

    def __init__(
        self, store: KeyToucher, every_ms: int = 60_000, flush_seconds: float = 1.0
    ) -> None:
        self._store = store
        self._every_ms = every_ms
        self._flush_seconds = flush_seconds
        self._noted: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._task = BackgroundTask(self._flush_forever, "key-usage")

    def note(self, key_id: str, now_ms: int) -> None:
        last = self._noted.get(key_id)
        if last is not None and now_ms - last < self._every_ms:
            return
        if len(self._noted) >= MAX_REMEMBERED:
            self._noted.clear()  # at worst one extra write per key
        self._noted[key_id] = now_ms
        self._pending[key_id] = now_ms

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await self._store.touch_keys(pending)
        except GatewayError as exc:
            log.warning("could not record when %d keys were last used: %s", len(pending), exc)

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()
