"""Encryption at rest: AES-256-GCM envelopes for secrets kept in the config store.

- `keyring`: the key-encryption keys (KEKs), named, one active; where they come from.
- `envelope`: `Secrets`, which seals one value under a fresh data key and opens it again.
- `rotate`: re-sealing every stored secret under the active key, and counting them by key.
"""
