"""Event metadata keys a tenant marks sensitive, sealed at ingest and opened on read.

`setSensitiveKeys` keeps one document per tenant (kind `sensitive_keys`) in
the config store: the key names, and a random per-tenant id key, itself
sealed (`crypto.envelope`). At ingest the value of each such key is replaced
by its sealed JSON text (AES-256-GCM under a fresh data key and nonce, bound
to tenant, `event_metadata` and the key name), before the event reaches the
events store, the ingest buffer or the live channel and its replay history:
live messages carry the sealed value too, and every read (the `events` page,
`liveEvents`) opens it for the owning tenant. A value that does not open (a
key no longer in the keyring, an altered value) reads as null and is logged,
never shown.

Event ids: an event with its own time is named by a hash of what it is, so a
retried body names the same events. A hash over a sensitive value would let
anyone holding the id test a guessed plaintext, so events carrying a sealed
value are named by a keyed hash (BLAKE2b under the tenant's id key) instead:
a retry still names the same events, and the id tells nothing.

Sealed values differ for equal plaintexts, so sensitive keys cannot be
grouped (or filtered) on: `eventCounts` and dashboard panels grouping by one
are refused. Events stored before a key was marked stay as they were; after
`crypto rotate` old events keep the key id they were sealed with and open as
long as the keyring holds it (events are not re-sealed). Other replicas
follow a change within `REFRESH_SECONDS`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.crypto.envelope import Place, Secrets, SecretUnreadable, is_sealed
from analytics_gateway.crypto.keyring import new_key
from analytics_gateway.domain import Event
from analytics_gateway.errors import BackendUnavailable, BadUserInput, Conflict

log = logging.getLogger(__name__)

KIND = "sensitive_keys"
DOC_ID = "policy"
ID_KEY_FIELD = "idKey"
VALUE_KIND = "event_metadata"  # the sealed values' place: (tenant, kind, "value", key)
MAX_KEYS = 50
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
REFRESH_SECONDS = 2.0
CACHED_TENANTS = 10_000
ATTEMPTS = 5
# what `crypto rotate` re-seals in these documents
SEALED = {KIND: (ID_KEY_FIELD,)}


@dataclass(frozen=True)
class SensitivePolicy:
    """A tenant's sensitive keys and the key its events' ids are hashed with."""

    keys: frozenset[str] = frozenset()
    id_key: bytes | None = None


def checked_keys(keys: Sequence[str]) -> list[str]:
    """Distinct, valid key names in the order given, or BAD_USER_INPUT naming `keys`."""
    names = list(dict.fromkeys(keys))
    if len(names) > MAX_KEYS:
        raise BadUserInput(f"keys: at most {MAX_KEYS} sensitive keys", field="keys")
    for name in names:
        if not KEY_RE.match(name):
            raise BadUserInput(
                f"keys: {name!r} is not a metadata key name (a letter or _, then letters, "
                "digits, _ . -; at most 128 characters)",
                field="keys",
            )
    return names


def keyed_event_id(
    id_key: bytes, tenant: str, type_: str, user_id: str | None, timestamp_ms: int,
    metadata: bytes,
) -> str:  # fmt: skip
    """`ingest.event_id` under the tenant's secret key: stable for a retry, and no
    oracle for a guessed plaintext."""
    digest = hashlib.blake2b(key=id_key, digest_size=16)
    for part in (tenant, type_, user_id or "\0", str(timestamp_ms)):
        digest.update(part.encode() + b"\x1f")
    digest.update(metadata)
    return digest.hexdigest()


class SensitiveKeys:
    def __init__(
        self,
        config: ConfigStore,
        secrets: Secrets,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._clock = clock
        # tenant -> (read at, policy): ingest asks per batch
        self._cached: dict[str, tuple[float, SensitivePolicy]] = {}

    # -- the policy ------------------------------------------------------

    async def policy(self, tenant: str) -> SensitivePolicy:
        """The tenant's policy, re-read every `REFRESH_SECONDS`; the last one known
        while the config store is down."""
        cached = self._cached.get(tenant)
        if cached is not None and self._clock() - cached[0] < REFRESH_SECONDS:
            return cached[1]
        try:
            found = await self._config.get_document(KIND, tenant, DOC_ID)
        except BackendUnavailable:
            if cached is None:
                raise
            self._remember(tenant, cached[1])  # asked again in a while, not per batch
            return cached[1]
        policy = self._policy_of(tenant, found[1] if found else None)
        self._remember(tenant, policy)
        return policy

    async def keys(self, tenant: str) -> frozenset[str]:
        return (await self.policy(tenant)).keys

    def _remember(self, tenant: str, policy: SensitivePolicy) -> None:
        if len(self._cached) >= CACHED_TENANTS:
            self._cached.clear()
        self._cached[tenant] = (self._clock(), policy)

    def _policy_of(self, tenant: str, doc: Mapping[str, Any] | None) -> SensitivePolicy:
        if not doc or not doc.get("keys"):
            return SensitivePolicy()
        id_key: bytes | None = None
        try:
            sealed = doc.get(ID_KEY_FIELD)
            opened = self._secrets.open(sealed, Place(tenant, KIND, DOC_ID, ID_KEY_FIELD))
            id_key = base64.b64decode(opened, validate=True)
        except (SecretUnreadable, binascii.Error, ValueError) as exc:
            # events then get random ids: no de-duplication of retries, and no oracle
            log.warning("tenant %s: the event id key does not open (%s)", tenant, exc)
        return SensitivePolicy(frozenset(str(k) for k in doc["keys"]), id_key)

    async def set(self, tenant: str, keys: Sequence[str]) -> list[str]:
        """Replace the tenant's sensitive keys; the id key is made once and kept."""
        names = checked_keys(keys)
        if names and self._secrets.keyring is None:
            raise BadUserInput(
                "keys: values cannot be encrypted: the gateway has no encryption key "
                "(the operator sets ANALYTICS_ENCRYPTION_KEYS_FILE)",
                field="keys",
            )
        for _ in range(ATTEMPTS):
            found = await self._config.get_document(KIND, tenant, DOC_ID)
            version, doc = found if found is not None else (0, {})
            sealed_id_key = doc.get(ID_KEY_FIELD)
            if not sealed_id_key and names:
                place = Place(tenant, KIND, DOC_ID, ID_KEY_FIELD)
                sealed_id_key = self._secrets.seal(base64.b64encode(new_key()).decode(), place)
            new_doc = {"keys": names, ID_KEY_FIELD: sealed_id_key}
            try:
                await self._config.put_document(
                    KIND, tenant, DOC_ID, new_doc, expected_version=version
                )
            except Conflict:
                continue
            self._remember(tenant, self._policy_of(tenant, new_doc))
            return names
        raise Conflict("sensitive keys changed meanwhile; try again")

    async def refuse_grouping(self, tenant: str, key: str | None, field: str) -> None:
        """BAD_USER_INPUT when `key` is sensitive: its sealed values never repeat."""
        if key is not None and key in await self.keys(tenant):
            raise BadUserInput(
                f"{field}: {key!r} is a sensitive metadata key; its values are encrypted "
                "and cannot be grouped or filtered on",
                field=field,
            )

    # -- values ----------------------------------------------------------

    def seal(
        self, tenant: str, metadata: Mapping[str, Any], policy: SensitivePolicy
    ) -> dict[str, Any] | None:
        """`metadata` with its sensitive values sealed; None when it holds none.

        Raises `ValueError` (the event is rejected) when there is no keyring."""
        present = [k for k in metadata if k in policy.keys and metadata[k] is not None]
        if not present:
            return None
        if self._secrets.keyring is None:
            raise ValueError(
                f"metadata key {present[0]!r} is sensitive, and the gateway has no "
                "encryption key to seal it with"
            )
        out = dict(metadata)
        for key in present:
            text = orjson.dumps(metadata[key]).decode()
            out[key] = self._secrets.seal(text, Place(tenant, VALUE_KIND, "value", key))
        return out

    def open(self, tenant: str, metadata: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """`metadata` with sealed values opened; unreadable ones null, and how many."""
        out = dict(metadata)
        failed = 0
        for key, value in metadata.items():
            if not is_sealed(value):
                continue
            try:
                text = self._secrets.open(value, Place(tenant, VALUE_KIND, "value", key))
                out[key] = orjson.loads(text)
            except (SecretUnreadable, orjson.JSONDecodeError):
                out[key] = None
                failed += 1
        return out, failed

    def open_events(self, events: Iterable[Event]) -> list[Event]:
        """Events as their tenant sees them; one warning for values that did not open."""
        out: list[Event] = []
        failed = 0
        for event in events:
            if not any(is_sealed(v) for v in event.metadata.values()):
                out.append(event)
                continue
            metadata, bad = self.open(event.tenant, event.metadata)
            failed += bad
            out.append(replace(event, metadata=metadata))
        if failed:
            log.warning("%d sensitive event metadata value(s) did not open; shown as null", failed)
        return out

    def open_message(self, tenant: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """One live message's metadata, opened (a warning when a value does not open)."""
        opened, failed = self.open(tenant, metadata)
        if failed:
            log.warning("%d sensitive event metadata value(s) did not open; shown as null", failed)
        return opened
