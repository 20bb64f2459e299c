"""API keys that expire, rotate with a grace period, and record when they were last used.

Through the admin GraphQL mutations (scoped to the caller's tenant), the
`keys` command, and each config store (SQLite, and Redis: directly here, and
under `--backends production` for everything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway import cli
from analytics_gateway.app import create_app
from analytics_gateway.auth import authenticate, create_key, hash_key, parse_scopes, rotate_key
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.errors import NotFound, Unauthenticated
from analytics_gateway.key_memory import KeyUsage
from tests.conftest import MakeKey, asgi_transport, started

HOUR_MS = 3_600_000
CREATE = (
    'mutation($e: String) { createApiKey(scopes: ["read"], expiresIn: $e) '
    "{ secret apiKey { id expiresAt } } }"
)
ROTATE = (
    "mutation($id: ID!, $g: String!) { rotateApiKey(id: $id, grace: $g) "
    "{ secret apiKey { id previousSecretUntil } } }"
)
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) }"
LIST = "{ apiKeys { id scopes expiresAt lastUsedAt previousSecretUntil revoked } }"


class Clock:
    """The gateway's "now" (epoch ms), moved by the test."""

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms


@contextlib.asynccontextmanager
async def gateway(settings: Settings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with started(create_app(settings, registry=CollectorRegistry(), clock=clock)) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def call(
    http: httpx.AsyncClient, key: str, query: str, variables: Mapping[str, Any] | None = None
) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": dict(variables or {})},
        headers={"Authorization": f"Bearer {key}"},
    )


async def ok(
    http: httpx.AsyncClient, key: str, query: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    response = await call(http, key, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def refused(http: httpx.AsyncClient, key: str) -> str:
    """The reason a key is refused (it must be: 401 UNAUTHENTICATED)."""
    response = await call(http, key, "{ viewer }")
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    return str(error["message"])


async def test_a_key_expires_and_is_then_refused_as_expired(
    settings: Settings, make_key: MakeKey
) -> None:
    admin = await make_key("acme", "admin")
    clock = Clock()
    async with gateway(settings, clock) as http:
        created = (await ok(http, admin, CREATE, {"e": "1h"}))["createApiKey"]
        key = created["secret"]
        assert (await ok(http, key, "{ viewer }"))["viewer"]["tenant"] == "acme"
        listed = {k["id"]: k for k in (await ok(http, admin, LIST))["apiKeys"]}
        assert listed[created["apiKey"]["id"]]["expiresAt"] == created["apiKey"]["expiresAt"]

        clock.ms += HOUR_MS + 1
        assert await refused(http, key) == "key expired"
        assert (await ok(http, admin, "{ viewer }"))["viewer"]["tenant"] == "acme"
        bad = await call(http, admin, CREATE, {"e": "soon"})
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_rotation_keeps_the_old_secret_until_the_grace_ends(
    settings: Settings, make_key: MakeKey
) -> None:
    admin = await make_key("acme", "admin")
    clock = Clock()
    async with gateway(settings, clock) as http:
        old = (await ok(http, admin, CREATE))["createApiKey"]
        key_id = old["apiKey"]["id"]
        rotated = (await ok(http, admin, ROTATE, {"id": key_id, "g": "10m"}))["rotateApiKey"]
        new = rotated["secret"]
        assert new != old["secret"]
        assert new.startswith(f"agk_{key_id}_")
        assert rotated["apiKey"]["previousSecretUntil"] is not None
        for secret in (old["secret"], new):
            assert (await ok(http, secret, "{ viewer }"))["viewer"]["keyId"] == key_id

        clock.ms += 10 * 60_000 + 1
        assert await refused(http, old["secret"]) == "key expired"
        assert (await ok(http, new, "{ viewer }"))["viewer"]["keyId"] == key_id

        # a second rotation ends the first one's grace at once; revoking ends both
        again = (await ok(http, admin, ROTATE, {"id": key_id, "g": "1h"}))["rotateApiKey"]
        assert (await ok(http, new, "{ viewer }"))["viewer"]["keyId"] == key_id
        revoked = await ok(http, admin, REVOKE, {"id": key_id})
        assert revoked == {"revokeApiKey": True}
        for secret in (old["secret"], new, again["secret"]):
            assert await refused(http, secret) == "invalid or revoked API key"


async def test_last_use_is_recorded(settings: Settings, make_key: MakeKey) -> None:
    admin = await make_key("acme", "admin")
    clock = Clock()
    async with gateway(settings, clock) as http:
        key = (await ok(http, admin, CREATE))["createApiKey"]
        await ok(http, key["secret"], "{ viewer }")
        used_at = clock.ms

        async def last_used() -> str | None:
            listed = {k["id"]: k for k in (await ok(http, admin, LIST))["apiKeys"]}
            value: str | None = listed[key["apiKey"]["id"]]["lastUsedAt"]
            return value

        loop = asyncio.get_running_loop()
        give_up = loop.time() + 60
        while (seen := await last_used()) is None:
            assert loop.time() < give_up, "last use was not recorded"
            await asyncio.sleep(0.1)
        assert seen.startswith(time.strftime("%Y-%m-%dT%H:", time.gmtime(used_at / 1000)))

        clock.ms += 2 * 60_000
        await ok(http, key["secret"], "{ viewer }")
        while (later := await last_used()) == seen:
            assert loop.time() < give_up, "the later use was not recorded"
            await asyncio.sleep(0.1)
        assert later is not None
        assert later > seen


class Touches:
    def __init__(self) -> None:
        self.writes: list[dict[str, int]] = []

    async def touch_keys(self, used_at_ms: Mapping[str, int]) -> None:
        self.writes.append(dict(used_at_ms))


async def test_last_use_is_written_at_most_once_a_minute_per_key() -> None:
    store = Touches()
    usage = KeyUsage(store)
    for at_ms in (0, 1_000, 59_999):
        usage.note("k1", at_ms)
    usage.note("k2", 30_000)
    await usage.flush()
    usage.note("k1", 60_000)
    usage.note("k2", 60_000)  # 30 s after its last: not yet
    await usage.flush()
    await usage.flush()  # nothing noted: no write
    assert store.writes == [{"k1": 0, "k2": 30_000}, {"k1": 60_000}]


async def test_admins_manage_their_own_tenants_keys_only(
    settings: Settings, make_key: MakeKey
) -> None:
    acme_admin = await make_key("acme", "admin")
    globex_admin = await make_key("globex", "admin")
    reader = await make_key("acme", "read")
    async with gateway(settings, Clock()) as http:
        acme_key = (await ok(http, acme_admin, CREATE))["createApiKey"]
        acme_id = acme_key["apiKey"]["id"]
        globex_ids = {k["id"] for k in (await ok(http, globex_admin, LIST))["apiKeys"]}
        assert acme_id not in globex_ids
        assert len(globex_ids) == 1  # its own admin key

        rotate = await call(http, globex_admin, ROTATE, {"id": acme_id, "g": "1h"})
        assert rotate.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        revoke = await ok(http, globex_admin, REVOKE, {"id": acme_id})
        assert revoke == {"revokeApiKey": False}
        assert (await ok(http, acme_key["secret"], "{ viewer }"))["viewer"]["tenant"] == "acme"

        listing = await call(http, reader, LIST)
        assert listing.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_keys_command_creates_expiring_keys_rotates_and_lists(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANALYTICS_DATA_DIR", str(settings.data_dir))
    if settings.config_url:
        monkeypatch.setenv("ANALYTICS_CONFIG_URL", settings.config_url)

    def run(*args: str) -> list[str]:
        assert cli.main(["keys", *args]) == 0
        return capsys.readouterr().out.strip().splitlines()

    created = run("create", "--tenant", "acme", "--scopes", "read", "--expires", "90d")
    key = created[-1]
    key_id = key.split("_")[1]
    assert any(line.startswith("it expires at ") for line in created)
    rotated = run("rotate", key_id, "--grace", "1h")
    new_key = rotated[-1]
    assert new_key.startswith(f"agk_{key_id}_")
    assert new_key != key

    async def check() -> None:
        store = build_config_store(settings)
        try:
            for secret in (key, new_key):
                principal = await authenticate(store, secret)
                assert principal.key_id == key_id
                assert principal.expires_at_ms is not None
            old = await authenticate(store, key)
            new = await authenticate(store, new_key)
            assert old.expires_at_ms is not None
            assert new.expires_at_ms is not None
            assert old.expires_at_ms < new.expires_at_ms  # the grace, not the 90 days
        finally:
            await store.close()

    asyncio.run(check())
    [line] = [row for row in run("list", "--tenant", "acme") if row.startswith(key_id)]
    columns = line.split("\t")
    assert columns[:3] == [key_id, "acme", "read"]
    assert columns[3].startswith("active (old secret until ")
    assert columns[4].startswith("expires 20")
    assert columns[5] == "last used never"
    assert cli.main(["keys", "rotate", "nope"]) == 2
    assert "no key with id 'nope'" in capsys.readouterr().err


async def test_each_store_keeps_expiry_rotation_and_last_use(config_store: ConfigStore) -> None:
    record, key = await create_key(
        config_store, "acme", parse_scopes("read"), "", expires_in_ms=HOUR_MS, now_ms=1_000
    )
    assert record.expires_at_ms == 1_000 + HOUR_MS
    assert await config_store.key_by_hash(hash_key(key)) == record

    rotated, new_key = await rotate_key(config_store, record.key_id, 60_000, now_ms=2_000)
    assert rotated.previous_until_ms == 62_000
    by_new = await config_store.key_by_hash(hash_key(new_key))
    by_old = await config_store.key_by_hash(hash_key(key))
    assert by_new is not None
    assert by_new.expires_at_ms == 1_000 + HOUR_MS
    assert by_old is not None
    assert by_old.expires_at_ms == 62_000
    with pytest.raises(Unauthenticated, match="key expired"):
        await authenticate(config_store, key, now_ms=62_000)
    assert (await authenticate(config_store, new_key, now_ms=62_000)).key_id == record.key_id

    _, newest = await rotate_key(config_store, record.key_id, 60_000, now_ms=3_000)
    assert await config_store.key_by_hash(hash_key(key)) is None  # dropped at once
    assert await config_store.key_by_hash(hash_key(new_key)) is not None
    assert await config_store.key_by_hash(hash_key(newest)) is not None
    with pytest.raises(NotFound):
        await rotate_key(config_store, record.key_id, 60_000, tenant="globex")

    await config_store.touch_keys({record.key_id: 5_000, "nope": 6_000})
    await config_store.touch_keys({record.key_id: 4_000})  # an older time never wins
    [listed] = await config_store.list_keys("acme")
    assert listed.last_used_at_ms == 5_000
    assert listed.previous_until_ms == 63_000
    assert listed.expires_at_ms == 1_000 + HOUR_MS
