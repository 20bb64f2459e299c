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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from analytics_gateway.domain import ApiKeyRecord
from analytics_gateway.errors import BackendUnavailable

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

    def _recent(self, secret_hash: str, failure: BaseException | None) -> ApiKeyRecord:
        found = self._verified.get(secret_hash)
        if found is not None and self._clock() - found[0] <= self._remember:
            return found[1]
        raise BackendUnavailable(
            "config store is unavailable and this key was not verified lately",
            backend="config",
        ) from failure
