"""Key-encryption keys (KEKs): named AES-256 keys, one of them active.

The keyring file (`ANALYTICS_ENCRYPTION_KEYS_FILE`) is JSON:

    {"active": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "<base64 of 32 bytes>"}}

New secrets are sealed with the active key; every stored secret names the key
that sealed it, so keys that are no longer active still open what they
sealed until `analytics-gateway crypto rotate` has re-sealed it. The file is
read at start and re-read when it changes (checked at most every
`RELOAD_SECONDS`), so a rotation needs no restart.

Without the setting (`keyring_for`):

- development (the embedded demo included): a keyring is made once in the
  data directory (`encryption-keys.json`, mode 0600) and used from then on.
  Replicas sharing a Redis config store need one shared file instead.
- production: there is no keyring; storing a secret is refused unless
  `ANALYTICS_ALLOW_PLAINTEXT_SECRETS=true` says plaintext is acceptable.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from analytics_gateway.config import Settings

log = logging.getLogger(__name__)

KEY_BYTES = 32  # AES-256
GENERATED_NAME = "encryption-keys.json"
RELOAD_SECONDS = 5.0


class KeyringError(ValueError):
    """A keyring that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: dict[str, bytes]
    path: Path | None = None

    def key(self, kek_id: str) -> bytes | None:
        return self.keys.get(kek_id)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_keyring(active: str, keys: dict[str, bytes]) -> bytes:
    """The file form of a keyring (what `generate` writes and tests build)."""
    return orjson.dumps(
        {"active": active, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}},
        option=orjson.OPT_INDENT_2,
    )


def parse_keyring(raw: bytes | str, source: str, path: Path | None = None) -> Keyring:
    try:
        document: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KeyringError(f"{source}: not JSON (see the README: encryption at rest)") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise KeyringError(f'{source}: expected {{"active": ID, "keys": {{ID: base64 key}}}}')
    keys: dict[str, bytes] = {}
    for kek_id, encoded in document["keys"].items():
        if not kek_id or not isinstance(encoded, str):
            raise KeyringError(f"{source}: key {kek_id!r} must be a base64 string")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"{source}: key {kek_id!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(
                f"{source}: key {kek_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}"
            )
        keys[kek_id] = key
    active = document.get("active")
    if not isinstance(active, str) or active not in keys:
        raise KeyringError(f"{source}: 'active' must name one of its keys ({', '.join(keys)})")
    return Keyring(active, keys, path)


def load_keyring(path: Path) -> Keyring:
    source = f"ANALYTICS_ENCRYPTION_KEYS_FILE {path}"
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyringError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        log.warning("%s is readable by every user of this host; chmod 600 it", path)
    return parse_keyring(raw, source, path)


def generated_keyring(path: Path) -> Keyring:
    """The data directory's own keyring, made on first use (mode 0600, never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return load_keyring(path)
    # written aside, then linked into place: a process starting meanwhile sees the
    # whole file or none, and of two makers only the first one's key is kept
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encode_keyring("k1", {"k1": new_key()}))
        os.link(draft, path)
        log.info("made a keyring for encryption at rest in %s", path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return load_keyring(path)


def keyring_for(settings: Settings) -> Keyring | None:
    """The configured keyring, the data directory's (development), or none (production)."""
    if settings.encryption_keys_file:
        return load_keyring(Path(settings.encryption_keys_file))
    if settings.env == "development":
        if not settings.resolved_config_url.startswith("sqlite:"):
            log.warning(
                "the config store is shared but the keyring is this data directory's own: "
                "give every replica the same ANALYTICS_ENCRYPTION_KEYS_FILE, or their channels "
                "will not open on each other"
            )
        return generated_keyring(settings.data_dir / GENERATED_NAME)
    return None
