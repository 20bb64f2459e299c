"""Envelope encryption of single string values with AES-256-GCM.

Each value gets a fresh random 256-bit data key (DEK); the value is
encrypted with the DEK, and the DEK is encrypted ("wrapped") with the
active key-encryption key (KEK) of the keyring. The stored form is a small
JSON object that names the KEK, so values sealed before a rotation still
open:

    {"$sealed": 1, "kek": "k2", "dek": b64(nonce + wrapped DEK), "data": b64(nonce + ciphertext)}

Both encryptions take as associated data where the value belongs (tenant,
document kind, document id, field): a sealed value copied into another
tenant's document, another document or another field does not open there
(`SecretUnreadable`), and what it hides is never shown.

A plain string where a sealed value is expected is a value stored before
encryption was on (or with plaintext allowed); it reads as itself, and
`crypto rotate` seals it. The empty string stays empty: there is nothing to
hide, and "no secret" stays visible as such.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from analytics_gateway.config import Settings
from analytics_gateway.crypto.keyring import (
    RELOAD_SECONDS,
    Keyring,
    KeyringError,
    keyring_for,
    load_keyring,
    new_key,
)
from analytics_gateway.errors import GatewayError

log = logging.getLogger(__name__)

MARK = "$sealed"
FORMAT = 1
NONCE_BYTES = 12
PLAINTEXT = "plaintext"  # what `key_id` says of a value stored unsealed


class SecretUnreadable(GatewayError):
    """A stored secret that does not open here: sealed for another place, or with a
    key the keyring no longer holds. Says which document, never what it holds."""


class PlaintextRefused(GatewayError):
    """No keyring, and plaintext secrets are not allowed (production)."""


@dataclass(frozen=True)
class Place:
    """Where a value belongs; bound to its ciphertext as associated data."""

    tenant: str
    kind: str
    doc_id: str
    field: str

    def associated_data(self, kek_id: str | None = None) -> bytes:
        parts = [f"analytics-gateway/v{FORMAT}", self.tenant, self.kind, self.doc_id, self.field]
        if kek_id is not None:
            parts.append(f"kek={kek_id}")
        return "\x00".join(parts).encode()

    def describe(self) -> str:
        return f"{self.kind} {self.doc_id!r} ({self.field})"


def is_sealed(stored: Any) -> bool:
    return isinstance(stored, Mapping) and stored.get(MARK) == FORMAT


def key_id(stored: Any) -> str | None:
    """The KEK id a stored value was sealed with; `PLAINTEXT`; None when empty."""
    if is_sealed(stored):
        return str(stored["kek"])
    return PLAINTEXT if stored else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


class Secrets:
    """Seals and opens values with a keyring, re-read when its file changes."""

    def __init__(
        self,
        keyring: Keyring | None,
        *,
        allow_plaintext: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keyring = keyring
        self.allow_plaintext = allow_plaintext
        self._clock = clock
        self._checked_at = clock()
        self._mtime = _mtime(keyring.path) if keyring and keyring.path else None

    @classmethod
    def of_settings(cls, settings: Settings) -> Secrets:
        """Raises `KeyringError` (a `ValueError`) when the keyring cannot be used."""
        keyring = keyring_for(settings)
        if keyring is None and not settings.allow_plaintext_secrets:
            log.warning(
                "no ANALYTICS_ENCRYPTION_KEYS_FILE: channel URLs and secrets cannot be stored "
                "(set it, or ANALYTICS_ALLOW_PLAINTEXT_SECRETS=true to store them unencrypted)"
            )
        return cls(keyring, allow_plaintext=settings.allow_plaintext_secrets)

    @property
    def keyring(self) -> Keyring | None:
        self._maybe_reload()
        return self._keyring

    def _maybe_reload(self, *, now: bool = False) -> None:
        keyring = self._keyring
        if keyring is None or keyring.path is None:
            return
        if not now and self._clock() - self._checked_at < RELOAD_SECONDS:
            return
        self._checked_at = self._clock()
        mtime = _mtime(keyring.path)
        if mtime == self._mtime:
            return
        try:
            self._keyring = load_keyring(keyring.path)
        except KeyringError as exc:
            log.warning("keeping the keyring loaded before: %s", exc)
            return
        self._mtime = mtime
        log.info("keyring reloaded: active key %s", self._keyring.active)

    # -- one value ---------------------------------------------------------

    def seal(self, value: str, place: Place) -> str | dict[str, Any]:
        if not value:
            return value
        keyring = self.keyring
        if keyring is None:
            if self.allow_plaintext:
                return value
            raise PlaintextRefused(
                f"{place.field}: secrets cannot be stored: the gateway has no encryption key "
                "(the operator sets ANALYTICS_ENCRYPTION_KEYS_FILE)",
                field=place.field,
            )
        kek_id = keyring.active
        dek = new_key()
        dek_nonce, data_nonce = new_key()[:NONCE_BYTES], new_key()[:NONCE_BYTES]
        wrapped = AESGCM(keyring.keys[kek_id]).encrypt(
            dek_nonce, dek, place.associated_data(kek_id)
        )
        data = AESGCM(dek).encrypt(data_nonce, value.encode(), place.associated_data())
        return {MARK: FORMAT, "kek": kek_id, "dek": _b64(dek_nonce + wrapped),
                "data": _b64(data_nonce + data)}  # fmt: skip

    def open(self, stored: Any, place: Place) -> str:
        if isinstance(stored, str):
            return stored  # stored before encryption, or with plaintext allowed
        if not is_sealed(stored):
            raise SecretUnreadable(f"{place.describe()}: the stored secret is malformed")
        kek_id = str(stored["kek"])
        kek = self._kek(kek_id)
        if kek is None:
            raise SecretUnreadable(
                f"{place.describe()}: the stored secret was sealed with key {kek_id!r}, "
                "which the keyring does not hold"
            )
        try:
            dek_blob, data_blob = _unb64(stored["dek"]), _unb64(stored["data"])
            dek = AESGCM(kek).decrypt(
                dek_blob[:NONCE_BYTES], dek_blob[NONCE_BYTES:], place.associated_data(kek_id)
            )
            plain = AESGCM(dek).decrypt(
                data_blob[:NONCE_BYTES], data_blob[NONCE_BYTES:], place.associated_data()
            )
        except (InvalidTag, KeyError, ValueError, binascii.Error):
            raise SecretUnreadable(
                f"{place.describe()}: the stored secret does not open: it was sealed for "
                "another document, or altered"
            ) from None
        return plain.decode()

    def _kek(self, kek_id: str) -> bytes | None:
        keyring = self.keyring
        if keyring is None:
            return None
        found = keyring.key(kek_id)
        if found is None:  # perhaps added to the file since: look now
            self._maybe_reload(now=True)
            found = self._keyring.key(kek_id) if self._keyring else None
        return found

    def is_current(self, stored: Any) -> bool:
        """Whether `stored` is as the active key would store it (rotation skips it)."""
        keyring = self.keyring
        if keyring is None or not stored:
            return True
        return is_sealed(stored) and stored["kek"] == keyring.active

    # -- documents ---------------------------------------------------------

    def seal_fields(
        self, document: Mapping[str, Any], fields: Sequence[str], tenant: str, kind: str,
        doc_id: str,
    ) -> dict[str, Any]:  # fmt: skip
        out = dict(document)
        for name in fields:
            if isinstance(out.get(name), str):
                out[name] = self.seal(out[name], Place(tenant, kind, doc_id, name))
        return out

    def open_fields(
        self, document: Mapping[str, Any], fields: Sequence[str], tenant: str, kind: str,
        doc_id: str,
    ) -> dict[str, Any]:  # fmt: skip
        out = dict(document)
        for name in fields:
            if name in out:
                out[name] = self.open(out[name], Place(tenant, kind, doc_id, name))
        return out


def _mtime(path: Path) -> tuple[int, int, int] | None:
    """What tells a rewritten file apart (a rename in place changes the inode)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino
