"""Sensitive metadata values: sealed per value, bound to tenant and key, read as null
when they do not open; the policy survives a config store blip."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.crypto.envelope import Secrets
from analytics_gateway.crypto.keyring import Keyring, new_key
from analytics_gateway.domain import Event
from analytics_gateway.errors import BackendUnavailable, BadUserInput
from analytics_gateway.privacy.sensitive import REFRESH_SECONDS, SensitiveKeys


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[SensitiveKeys, SQLiteConfigStore, Clock]]:
    config = SQLiteConfigStore(str(tmp_path / "config.sqlite3"))
    clock = Clock()
    yield SensitiveKeys(config, Secrets(Keyring("k1", {"k1": new_key()})), clock), config, clock
    await config.close()


async def test_equal_values_seal_apart_and_open_only_where_they_were_sealed(
    parts: tuple[SensitiveKeys, SQLiteConfigStore, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    sensitive, _, _ = parts
    assert await sensitive.set("acme", ["email", "card"]) == ["email", "card"]
    policy = await sensitive.policy("acme")
    assert policy.id_key is not None
    metadata: dict[str, Any] = {"email": "a@x.io", "card": {"last4": 1234}, "plan": "pro"}
    one = sensitive.seal("acme", metadata, policy)
    two = sensitive.seal("acme", metadata, policy)
    assert one is not None
    assert two is not None
    assert one["plan"] == "pro"
    assert one["email"] != two["email"]
    assert "a@x.io" not in str(one)
    assert sensitive.open("acme", one) == (metadata, 0)
    # another tenant, or the value moved under another key: null, counted
    assert sensitive.open("globex", one)[0]["email"] is None
    moved = {**one, "card": one["email"]}
    assert sensitive.open("acme", moved) == ({**metadata, "card": None}, 1)
    with caplog.at_level(logging.WARNING):
        [event] = sensitive.open_events([Event("acme", "e1", "signup", None, 1, moved)])
    assert event.metadata["card"] is None
    assert "did not open" in caplog.text
    assert "a@x.io" not in caplog.text
    # nothing sensitive in it: nothing to seal
    assert sensitive.seal("acme", {"plan": "pro"}, policy) is None


async def test_names_are_checked_and_the_id_key_is_kept_across_changes(
    parts: tuple[SensitiveKeys, SQLiteConfigStore, Clock],
) -> None:
    sensitive, _, clock = parts
    for bad in (["a b"], ["1x"], ["x" * 129], [f"k{i}" for i in range(51)]):
        with pytest.raises(BadUserInput) as raised:
            await sensitive.set("acme", bad)
        assert raised.value.extensions == {"field": "keys"}
    await sensitive.set("acme", ["email"])
    first = (await sensitive.policy("acme")).id_key
    await sensitive.set("acme", ["email", "phone"])
    clock.now += REFRESH_SECONDS
    policy = await sensitive.policy("acme")
    assert policy.keys == {"email", "phone"}
    assert policy.id_key == first
    with pytest.raises(BadUserInput):
        await sensitive.refuse_grouping("acme", "phone", "groupBy")
    await sensitive.refuse_grouping("acme", "plan", "groupBy")
    await sensitive.refuse_grouping("globex", "phone", "groupBy")


async def test_a_config_store_blip_keeps_the_last_policy(
    parts: tuple[SensitiveKeys, SQLiteConfigStore, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    sensitive, config, clock = parts
    await sensitive.set("acme", ["email"])
    calls = 0

    async def down(*_: Any) -> None:
        nonlocal calls
        calls += 1
        raise BackendUnavailable("config down", backend="sqlite")

    monkeypatch.setattr(config, "get_document", down)
    clock.now += REFRESH_SECONDS
    assert await sensitive.keys("acme") == {"email"}
    assert await sensitive.keys("acme") == {"email"}
    assert calls == 1  # asked once, not per batch
    with pytest.raises(BackendUnavailable):
        await sensitive.keys("globex")  # never known: cannot tell what to seal
