"""Re-sealing every stored secret under the active key, while gateways keep running.

Each document is re-read, re-sealed and written back only if nobody changed it
meanwhile (its version, as every writer of these documents does); on a
conflict it is read again and retried. Values already sealed with the active
key are left alone, so a second run writes nothing. Plaintext values stored
before encryption was on are sealed too. A document whose secrets do not open
is reported and left as it is.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.crypto.envelope import Secrets, SecretUnreadable, key_id
from analytics_gateway.errors import Conflict

ATTEMPTS = 10

# document kind -> the fields sealed in it
SealedFields = Mapping[str, Sequence[str]]


@dataclass
class Rotation:
    rewritten: int = 0  # documents written back
    fields: int = 0  # values re-sealed
    unchanged: int = 0  # documents already all under the active key
    retried: int = 0  # conflicts met and retried
    failed: list[str] = field(default_factory=list)  # documents that could not be re-sealed


async def _documents(config: ConfigStore, kind: str) -> list[tuple[str, str]]:
    return [
        (tenant, doc_id)
        for tenant in await config.document_tenants(kind)
        for doc_id, _, _ in await config.list_documents(kind, tenant)
    ]


async def rotate(config: ConfigStore, secrets: Secrets, sealed: SealedFields) -> Rotation:
    if secrets.keyring is None:
        raise SecretUnreadable("there is no keyring to rotate to (ANALYTICS_ENCRYPTION_KEYS_FILE)")
    report = Rotation()
    for kind, names in sealed.items():
        for tenant, doc_id in await _documents(config, kind):
            await _rotate_one(config, secrets, kind, names, tenant, doc_id, report)
    return report


async def _rotate_one(
    config: ConfigStore,
    secrets: Secrets,
    kind: str,
    names: Sequence[str],
    tenant: str,
    doc_id: str,
    report: Rotation,
) -> None:
    for _ in range(ATTEMPTS):
        found = await config.get_document(kind, tenant, doc_id)
        if found is None:
            return  # deleted meanwhile: nothing to re-seal
        version, document = found
        stale = [n for n in names if not secrets.is_current(document.get(n))]
        if not stale:
            report.unchanged += 1
            return
        try:
            plain = secrets.open_fields(document, stale, tenant, kind, doc_id)
        except SecretUnreadable as exc:
            report.failed.append(f"{tenant}: {exc.message}")
            return
        resealed = secrets.seal_fields(plain, stale, tenant, kind, doc_id)
        try:
            await config.put_document(kind, tenant, doc_id, resealed, expected_version=version)
        except Conflict:
            report.retried += 1
            continue
        report.rewritten += 1
        report.fields += len(stale)
        return
    report.failed.append(f"{tenant}: {kind} {doc_id!r} kept changing; run again")


async def count_by_key(config: ConfigStore, sealed: SealedFields) -> dict[str, int]:
    """Stored secret values per KEK id (`plaintext`: not sealed); empty values not counted."""
    counts: collections.Counter[str] = collections.Counter()
    for kind, names in sealed.items():
        for tenant in await config.document_tenants(kind):
            for _, _, document in await config.list_documents(kind, tenant):
                for name in names:
                    found = key_id(document.get(name))
                    if found is not None:
                        counts[found] += 1
    return dict(sorted(counts.items()))
