"""The model registry: trained models per tenant, metadata and bytes kept apart.

Metadata is a versioned document (kind `ml_model`) in the ConfigStore, so
every replica sees it; the fitted state is a file under
`<model_dir>/<tenant>/`, named after the model, its revision and a random
suffix. Retraining writes the new file first, then switches the document with
`expected_version` (a concurrent retrain loses with CONFLICT), and only then
deletes the old file: until the switch, readers keep the previous model.

Files are only ever read back from this directory, by the path the tenant's
own document names: nothing a client sends is unpickled. And a file is only
handed out when its HMAC-SHA256 signature checks out: it covers the tenant,
the model id, the revision and the bytes, with a key the files never sit
beside (`ANALYTICS_MODEL_SIGNING_KEY`, or one kept in the config store that
every replica shares). Write access to the models volume is then no longer
code execution on every replica: an unsigned, tampered or moved file is
refused before anything unpickles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import BackendUnavailable, Conflict, NotFound
from analytics_gateway.ml.detectors import AnomalyDetector, load_detector

log = logging.getLogger(__name__)

KIND = "ml_model"
ANOMALY = "anomaly"
FORECAST = "forecast"
RECOMMENDER = "recommender"
_SAFE_TENANT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_FILE = re.compile(r"^[0-9a-f]{1,32}-\d{1,9}-[0-9a-f]{8}\.model$")
_SIGNED = b"AGW-SIGNED-MODEL/1\n"
_SIGNATURE_BYTES = hashlib.sha256().digest_size
# where a signing key made by the gateway itself is kept (shared by every replica)
KEY_KIND, KEY_TENANT, KEY_ID = "gateway_secret", "_gateway", "model-signing-key"


class ModelNotFitted(NotFound):
    """The model exists but has no usable fitted state (file missing, unreadable or unfitted)."""


@dataclass(frozen=True)
class ModelRecord:
    """What the registry knows about one trained model (the document, plus its version)."""

    id: str
    name: str
    kind: str  # ANOMALY, FORECAST or RECOMMENDER
    metric: str
    labels: dict[str, str]
    method: str  # the detector, or the forecasting model chosen
    parameters: dict[str, Any]
    trained_from_ms: int
    trained_to_ms: int
    training_points: int
    step_ms: int
    trained_at_ms: int
    threshold: float | None = None
    sensitivity: str | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    revision: int = 1
    version: int = 0  # the document's version in the ConfigStore (0: not saved yet)

    def as_document(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        del doc["version"]
        return doc

    @classmethod
    def from_document(cls, doc_id: str, version: int, doc: dict[str, Any]) -> ModelRecord:
        known = {f.name for f in dataclasses.fields(cls)} - {"id", "version"}
        return cls(id=doc_id, version=version, **{k: v for k, v in doc.items() if k in known})


def tenant_directory(tenant: str) -> str:
    """A directory name for the tenant that can never leave the models root."""
    if _SAFE_TENANT.match(tenant):
        return tenant
    return "~" + hashlib.sha256(tenant.encode()).hexdigest()[:32]


def new_model_id() -> str:
    return uuid.uuid4().hex[:12]


def _signature(key: bytes, tenant: str, record: ModelRecord, revision: int, body: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (tenant.encode(), record.id.encode(), str(revision).encode()):
        mac.update(len(part).to_bytes(4, "big") + part)
    mac.update(body)
    return mac.digest()


class ModelRegistry:
    def __init__(self, config: ConfigStore, root: Path, signing_key: bytes | None = None) -> None:
        self._config = config
        self.root = root
        self._key = signing_key

    async def signing_key(self) -> bytes:
        """The configured key, or the one kept in the config store (made on first use)."""
        if self._key is None:
            found = await self._config.get_document(KEY_KIND, KEY_TENANT, KEY_ID)
            if found is None:
                made = {"key": secrets.token_hex(32)}
                with contextlib.suppress(Conflict):  # another replica made it first: theirs
                    await self._config.put_document(KEY_KIND, KEY_TENANT, KEY_ID, made, 0)
                found = await self._config.get_document(KEY_KIND, KEY_TENANT, KEY_ID)
            assert found is not None
            self._key = bytes.fromhex(str(found[1]["key"]))
        return self._key

    # -- metadata ------------------------------------------------------------

    async def models(self, tenant: str) -> list[ModelRecord]:
        docs = await self._config.list_documents(KIND, tenant)
        records = [ModelRecord.from_document(i, v, d) for i, v, d in docs]
        return sorted(records, key=lambda r: (r.trained_at_ms, r.id), reverse=True)

    async def find(self, tenant: str, model_id: str) -> ModelRecord | None:
        found = await self._config.get_document(KIND, tenant, model_id)
        return ModelRecord.from_document(model_id, *found) if found else None

    async def get(self, tenant: str, model_id: str) -> ModelRecord:
        record = await self.find(tenant, model_id)
        if record is None:
            raise NotFound(f"no model {model_id!r}", id=model_id)
        return record

    async def tenants(self) -> list[str]:
        return await self._config.document_tenants(KIND)

    # -- saving and deleting ---------------------------------------------------

    async def save(
        self,
        tenant: str,
        record: ModelRecord,
        payload: bytes | None,
        previous: ModelRecord | None = None,
    ) -> ModelRecord:
        """Store the model; with `previous`, replace it only if it is still current.

        The new file is complete on disk before the document points at it, and
        the previous file is removed only after the switch succeeded. When the
        switch is refused (a newer version won) the new file is removed; when its
        outcome is unknown (cancelled, or the store failed while answering) the
        file stays unless the document is known not to name it: removing it after
        the store did apply the write left a model whose file was missing.
        """
        revision = previous.revision + 1 if previous is not None else 1
        name = f"{record.id}-{revision}-{uuid.uuid4().hex[:8]}.model" if payload else None
        if payload is not None and name is not None:
            signature = _signature(await self.signing_key(), tenant, record, revision, payload)
            signed = _SIGNED + signature + payload
            await asyncio.to_thread(self._write, tenant, name, signed)
        saved = dataclasses.replace(record, file=name, revision=revision)
        try:
            version = await self._config.put_document(
                KIND,
                tenant,
                record.id,
                saved.as_document(),
                expected_version=previous.version if previous is not None else 0,
            )
        except Conflict:
            if name is not None:
                await asyncio.to_thread(self._remove, tenant, name)
            raise
        except Exception:
            if name is not None:
                await self._remove_unless_named(tenant, record.id, name)
            raise
        if previous is not None and previous.file and previous.file != name:
            await asyncio.to_thread(self._remove, tenant, previous.file)
        return dataclasses.replace(saved, version=version)

    async def _remove_unless_named(self, tenant: str, model_id: str, name: str) -> None:
        """After a failed switch: remove the new file if the document does not name it
        (if the store cannot say, keep it: an unused file costs less than a lost one)."""
        try:
            current = await self.find(tenant, model_id)
        except Exception:
            return
        if current is None or current.file != name:
            await asyncio.to_thread(self._remove, tenant, name)

    async def delete(self, tenant: str, model_id: str) -> bool:
        record = await self.find(tenant, model_id)
        if record is None:
            return False
        deleted = await self._config.delete_document(KIND, tenant, model_id)
        if deleted and record.file:
            await asyncio.to_thread(self._remove, tenant, record.file)
        return deleted

    # -- fitted state ------------------------------------------------------------

    async def read(self, tenant: str, record: ModelRecord) -> bytes:
        """The model's bytes, or `ModelNotFitted` saying why they cannot be had."""
        if not record.file or not _FILE.match(record.file):
            raise _not_fitted(record, "not_fitted", "it was never fitted")
        path = self._directory(tenant) / record.file
        try:
            signed = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise _not_fitted(record, "file_missing", "its file is missing") from None
        except OSError as exc:
            raise BackendUnavailable(
                f"model store: cannot read model {record.id!r}: {exc.strerror}", backend="ml"
            ) from exc
        return await self._verified(tenant, record, signed)

    async def _verified(self, tenant: str, record: ModelRecord, signed: bytes) -> bytes:
        """The bytes behind a valid signature for this tenant, model and revision."""
        if not signed.startswith(_SIGNED):
            log.warning("model %s of tenant %s: file is not signed; refused", record.id, tenant)
            raise _not_fitted(record, "file_unsigned", "its file is not signed by this gateway")
        start = len(_SIGNED) + _SIGNATURE_BYTES
        signature, body = signed[len(_SIGNED) : start], signed[start:]
        expected = _signature(await self.signing_key(), tenant, record, record.revision, body)
        if not hmac.compare_digest(signature, expected):
            log.warning("model %s of tenant %s: signature mismatch; refused", record.id, tenant)
            raise _not_fitted(
                record, "file_tampered", "its file was changed since this gateway wrote it"
            )
        return body

    def _directory(self, tenant: str) -> Path:
        return self.root / tenant_directory(tenant)

    def _write(self, tenant: str, name: str, payload: bytes) -> None:
        directory = self._directory(tenant)
        temporary = directory / f".{name}.tmp"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(directory / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise BackendUnavailable(
                f"model store: cannot write {directory}: {exc.strerror}", backend="ml"
            ) from exc

    def _remove(self, tenant: str, name: str) -> None:
        if not _FILE.match(name):
            return
        try:
            (self._directory(tenant) / name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("model file %s of tenant %s not removed: %s", name, tenant, exc)


def _not_fitted(record: ModelRecord, reason: str, why: str) -> ModelNotFitted:
    return ModelNotFitted(
        f"model {record.id!r} cannot be used: {why}; train it again",
        id=record.id,
        reason=reason,
    )


def detector_from(payload: bytes, record: ModelRecord) -> AnomalyDetector:
    """Unpickle a detector from the registry's own file; CPU work, call it in a thread."""
    try:
        detector = load_detector(payload)
    except Exception as exc:  # unpickling a damaged file can raise almost anything
        raise _not_fitted(
            record, "file_corrupt", "its file is not a readable fitted model"
        ) from exc
    if not detector.fitted:
        raise _not_fitted(record, "not_fitted", "it was never fitted")
    return detector
