"""The model registry: versioned documents in the ConfigStore, files on disk, per tenant."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.errors import BackendUnavailable, Conflict, NotFound
from analytics_gateway.ml.detectors import build_detector
from analytics_gateway.ml.registry import (
    ANOMALY,
    ModelNotFitted,
    ModelRecord,
    ModelRegistry,
    detector_from,
    tenant_directory,
)


@pytest.fixture
def registry(config_store: ConfigStore, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(config_store, tmp_path / "models")


def record(model_id: str = "a1b2c3", **changes: object) -> ModelRecord:
    base = ModelRecord(
        id=model_id,
        name="cpu hbos",
        kind=ANOMALY,
        metric="cpu",
        labels={"host": "a"},
        method="hbos",
        parameters={},
        trained_from_ms=0,
        trained_to_ms=60_000,
        training_points=100,
        step_ms=1000,
        trained_at_ms=1,
        threshold=0.997,
        sensitivity="MEDIUM",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def fitted_bytes(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    detector = build_detector("hbos").fit(np.arange(200) * 1000, rng.normal(0, 1, 200))
    return detector.to_bytes()


def files(registry: ModelRegistry, tenant: str) -> list[str]:
    directory = registry.root / tenant_directory(tenant)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def test_save_read_list_and_delete(registry: ModelRegistry) -> None:
    payload = fitted_bytes()
    saved = await registry.save("acme", record(), payload)
    assert saved.version == 1
    assert saved.revision == 1
    assert files(registry, "acme") == [saved.file]
    assert await registry.read("acme", saved) == payload
    assert [r.id for r in await registry.models("acme")] == ["a1b2c3"]
    assert (await registry.get("acme", "a1b2c3")).file == saved.file
    assert await registry.tenants() == ["acme"]
    assert await registry.delete("acme", "a1b2c3")
    assert files(registry, "acme") == []
    assert await registry.models("acme") == []
    assert not await registry.delete("acme", "a1b2c3")


async def test_retraining_switches_files_only_once_the_new_one_is_saved(
    registry: ModelRegistry,
) -> None:
    first = await registry.save("acme", record(), b"one")
    second = await registry.save("acme", record(training_points=200), b"two", previous=first)
    assert (second.revision, second.version) == (2, 2)
    assert files(registry, "acme") == [second.file]  # the old file went after the switch
    assert await registry.read("acme", await registry.get("acme", "a1b2c3")) == b"two"

    # A retrain based on a stale version loses: its file is removed, the current model stays.
    with pytest.raises(Conflict):
        await registry.save("acme", record(), b"stale", previous=first)
    current = await registry.get("acme", "a1b2c3")
    assert current.file == second.file
    assert files(registry, "acme") == [second.file]
    assert await registry.read("acme", current) == b"two"


async def test_a_failed_write_keeps_the_previous_model(
    registry: ModelRegistry, config_store: ConfigStore, tmp_path: Path
) -> None:
    first = await registry.save("acme", record(), b"one")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the models directory should be")
    with pytest.raises(BackendUnavailable):
        await ModelRegistry(config_store, blocked).save("acme", record(), b"two", previous=first)
    current = await registry.get("acme", "a1b2c3")
    assert (current.version, current.file) == (1, first.file)
    assert await registry.read("acme", current) == b"one"


class AppliedThenCancelled:
    """The config store, cancelled while its write's answer is on the way: the write
    is applied, the caller never hears so (a retrain task cancelled at that moment)."""

    def __init__(self, store: ConfigStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def put_document(self, *args: Any, **kwargs: Any) -> int:
        await self._store.put_document(*args, **kwargs)
        raise asyncio.CancelledError


async def test_a_save_cancelled_after_the_store_applied_it_keeps_the_new_file(
    registry: ModelRegistry, config_store: ConfigStore
) -> None:
    first = await registry.save("acme", record(), b"one")
    cancelled = ModelRegistry(cast(ConfigStore, AppliedThenCancelled(config_store)), registry.root)
    with pytest.raises(asyncio.CancelledError):
        await cancelled.save("acme", record(), b"two", previous=first)
    current = await registry.get("acme", "a1b2c3")
    assert current.revision == 2
    assert await registry.read("acme", current) == b"two"  # its file is there


async def test_missing_and_corrupt_files_are_clear_errors(registry: ModelRegistry) -> None:
    saved = await registry.save("acme", record(), fitted_bytes())
    assert detector_from(await registry.read("acme", saved), saved).fitted

    path = registry.root / tenant_directory("acme") / str(saved.file)
    with pytest.raises(ModelNotFitted) as corrupt:
        detector_from(b"AGW-ANOMALY-MODEL/1\nnot a pickle", saved)
    assert corrupt.value.code == "NOT_FOUND"
    assert corrupt.value.extensions["reason"] == "file_corrupt"
    assert "train it again" in corrupt.value.message
    with pytest.raises(ModelNotFitted, match="not a readable fitted model"):
        detector_from(b"something else entirely", saved)

    # a file this gateway did not sign is never unpickled
    path.write_bytes(b"AGW-ANOMALY-MODEL/1\nnot a pickle")
    with pytest.raises(ModelNotFitted) as unsigned:
        await registry.read("acme", saved)
    assert unsigned.value.extensions["reason"] == "file_unsigned"

    path.unlink()
    with pytest.raises(ModelNotFitted) as missing:
        await registry.read("acme", saved)
    assert missing.value.extensions["reason"] == "file_missing"

    unfitted = build_detector("hbos").to_bytes()
    with pytest.raises(ModelNotFitted) as never:
        detector_from(unfitted, saved)
    assert never.value.extensions["reason"] == "not_fitted"


async def test_tenants_are_isolated(registry: ModelRegistry) -> None:
    saved = await registry.save("acme", record(), b"acme's")
    with pytest.raises(NotFound):
        await registry.get("globex", saved.id)
    assert await registry.models("globex") == []
    assert not await registry.delete("globex", saved.id)
    assert await registry.read("acme", await registry.get("acme", saved.id)) == b"acme's"
    # The same id in another tenant is another model, in another directory.
    theirs = await registry.save("globex", record(), b"globex's")
    assert await registry.read("globex", theirs) == b"globex's"
    assert await registry.read("acme", saved) == b"acme's"


def test_tenant_directories_never_leave_the_root() -> None:
    assert tenant_directory("acme") == "acme"
    for name in ("..", ".", ".hidden", "a/b"):
        assert tenant_directory(name).startswith("~")
        assert "/" not in tenant_directory(name)
    assert tenant_directory("..") != tenant_directory(".")


async def test_signed_files_refuse_tampering_and_moves(
    registry: ModelRegistry, config_store: ConfigStore, tmp_path: Path
) -> None:
    """Write access to the models volume must not become code execution on a replica."""
    saved = await registry.save("acme", record(), fitted_bytes())
    path = registry.root / tenant_directory("acme") / str(saved.file)
    good = path.read_bytes()
    assert b"AGW-ANOMALY-MODEL" in good  # the payload is there, behind the signature

    flipped = bytearray(good)
    flipped[-1] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ModelNotFitted) as tampered:
        await registry.read("acme", saved)
    assert tampered.value.extensions["reason"] == "file_tampered"

    # acme's valid file copied over another tenant's model of the same name
    path.write_bytes(good)
    theirs = await registry.save("globex", record(), fitted_bytes(seed=1))
    (registry.root / tenant_directory("globex") / str(theirs.file)).write_bytes(good)
    with pytest.raises(ModelNotFitted) as moved:
        await registry.read("globex", theirs)
    assert moved.value.extensions["reason"] == "file_tampered"
    assert detector_from(await registry.read("acme", saved), saved).fitted

    # another replica on the same config store shares the key; another key refuses
    replica = ModelRegistry(config_store, registry.root)
    assert detector_from(await replica.read("acme", saved), saved).fitted
    stranger = ModelRegistry(config_store, registry.root, signing_key=b"not the key")
    with pytest.raises(ModelNotFitted):
        await stranger.read("acme", saved)
