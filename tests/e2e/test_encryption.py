"""Encryption at rest: channel URLs and secrets sealed in the config store, across a rotation.

Each test runs on the embedded store (SQLite) and, with `--backends production`,
on Redis; the raw store is read as bytes (SQLite's files) or key by key (every
key of the Redis server), and must not hold any secret in plaintext.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.alerting.model import Channel, ChannelKind
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.alerting.store import CHANNEL, SEALED, AlertDocuments
from analytics_gateway.app import create_app
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.backends.sqlite_config import SQLiteConfigStore
from analytics_gateway.config import Settings
from analytics_gateway.crypto.envelope import Place, Secrets, SecretUnreadable
from analytics_gateway.crypto.keyring import GENERATED_NAME, encode_keyring, load_keyring, new_key
from analytics_gateway.crypto.rotate import count_by_key, rotate
from tests.alerting.conftest import LOCAL_RECEIVERS, client_for, create_channel, data
from tests.conftest import GraphQLClient, make_settings, started
from tests.conftest import new_key as new_api_key
from tests.fixtures.alert_receivers import WEBHOOK_SECRET, HttpReceiver

K1, K2 = new_key(), new_key()
SLACK_TOKEN = "T0AAA/B0BBB/slack-token-xyz123"
HOOK_TOKEN = "hook-path-token-987"
SMTP_PASSWORD = "smtp-pass-word-456"
TEST_CHANNEL = "mutation($id: ID!) { testChannel(id: $id) { ok outcome error } }"
CHANNELS = "{ channels { id name url hasSecret } }"


def write_keyring(path: Path, active: str, keys: dict[str, bytes]) -> None:
    path.write_bytes(encode_keyring(active, keys))
    path.chmod(0o600)


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    write_keyring(path, "k1", {"k1": K1})
    return path


@pytest.fixture
def settings(tmp_path: Path, keyring: Path) -> Settings:
    return make_settings(
        tmp_path / "data", egress_allow=LOCAL_RECEIVERS, encryption_keys_file=str(keyring)
    )


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings, registry=CollectorRegistry())
    async with started(app):
        yield app


@contextlib.asynccontextmanager
async def admin(app: Starlette, settings: Settings, tenant: str) -> AsyncIterator[GraphQLClient]:
    key = await new_api_key(settings, tenant, "ingest,read,write,admin")
    async with client_for(app, key) as client:
        yield client


def secrets_of(receiver: HttpReceiver) -> list[str]:
    return [receiver.url(f"/{HOOK_TOKEN}"), SLACK_TOKEN, WEBHOOK_SECRET, SMTP_PASSWORD]


async def make_channels(gql: GraphQLClient, receiver: HttpReceiver) -> dict[str, str]:
    """A signed webhook, a Slack hook and an SMTP channel with a login; name -> id."""
    return {
        "hook": await create_channel(
            gql, name="hook", kind="WEBHOOK", url=receiver.url(f"/{HOOK_TOKEN}"),
            secret=WEBHOOK_SECRET,
        ),
        "slack": await create_channel(
            gql, name="slack", kind="SLACK", url=receiver.url(f"/slack/{SLACK_TOKEN}")
        ),
        "mail": await create_channel(
            gql, name="mail", kind="EMAIL", smtpHost="127.0.0.1", smtpPort=2525,
            sender="alerts@example.com", recipients=["oncall@example.com"],
            username="alerts", password=SMTP_PASSWORD,
        ),
    }  # fmt: skip


async def raw_store(settings: Settings) -> bytes:
    """Everything the config store holds, as stored: SQLite's files, or every Redis key."""
    if not settings.config_url.startswith("redis"):
        files = sorted(settings.data_dir.glob("config.sqlite3*"))
        assert files
        return b"".join(path.read_bytes() for path in files)
    base = settings.config_url.rsplit("/", 1)[0]
    dumped: list[bytes] = []
    probe = aioredis.Redis.from_url(base + "/0")
    try:
        databases = [int(db[2:]) for db in (await probe.info("keyspace"))]
    finally:
        await probe.aclose()
    for db in databases:
        client = aioredis.Redis.from_url(f"{base}/{db}")
        try:
            async for key in client.scan_iter(count=500):
                dumped += [key, await _value(client, key)]
        finally:
            await client.aclose()
    assert dumped
    return b"\n".join(dumped)


async def _value(client: aioredis.Redis, key: bytes) -> bytes:
    found_type = await client.type(key)
    kind = found_type.decode() if isinstance(found_type, bytes) else found_type
    found: Any
    if kind == "string":
        found = await client.get(key)
    elif kind == "hash":
        found = await client.hgetall(key)
    elif kind == "set":
        found = await client.smembers(key)
    elif kind == "list":
        found = await client.lrange(key, 0, -1)
    elif kind == "zset":
        found = await client.zrange(key, 0, -1)
    elif kind == "stream":
        found = await client.xrange(key)
    else:
        found = b""
    return repr(found).encode()


async def assert_no_plaintext(settings: Settings, receiver: HttpReceiver) -> None:
    raw = await raw_store(settings)
    assert b"$sealed" in raw
    for secret in secrets_of(receiver):
        assert secret.encode() not in raw, f"{secret!r} is stored in plaintext"


async def crypto(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The `crypto` command in its own process, as an operator runs it beside the gateway."""
    env = {
        **os.environ,
        "ANALYTICS_ENCRYPTION_KEYS_FILE": settings.encryption_keys_file,
        "ANALYTICS_CONFIG_URL": settings.config_url,
    }
    command = [sys.executable, "-m", "analytics_gateway", "crypto", *args]
    command += ["--data-dir", str(settings.data_dir)]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120, env=env, check=False
    )


async def delivered(gql: GraphQLClient, receiver: HttpReceiver, ids: dict[str, str]) -> None:
    """The webhook arrives signed with its secret; Slack at its full (token) URL."""
    before = len(receiver.requests)
    for name in ("hook", "slack"):
        result = await data(gql, TEST_CHANNEL, {"id": ids[name]})
        assert result["testChannel"] == {"ok": True, "outcome": "DELIVERED", "error": None}
    arrived = receiver.requests[before:]
    assert [r.path for r in arrived] == [f"/{HOOK_TOKEN}", f"/slack/{SLACK_TOKEN}"]
    assert arrived[0].signed


def status_lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return dict(line.split("\t") for line in result.stdout.splitlines() if "\t" in line)


async def test_a_rotated_keyring_still_opens_every_secret_and_channels_deliver(
    settings: Settings, keyring: Path, http_receiver: HttpReceiver
) -> None:
    async with gateway(settings) as app, admin(app, settings, "acme") as gql:
        ids = await make_channels(gql, http_receiver)
        await assert_no_plaintext(settings, http_receiver)
        assert status_lines(await crypto(settings, "status")) == {"k1": "4"}

        # the operator adds k2 as the active key and re-seals while the gateway runs
        write_keyring(keyring, "k2", {"k1": K1, "k2": K2})
        rotated = await crypto(settings, "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert "re-sealed 4 value(s) in 3 document(s)" in rotated.stdout
        again = await crypto(settings, "rotate")
        assert "re-sealed 0 value(s) in 0 document(s); 3 already current" in again.stdout
        assert status_lines(await crypto(settings, "status")) == {"k2": "4"}
        await assert_no_plaintext(settings, http_receiver)

        # the running gateway opens what was re-sealed under a key it did not start with
        await delivered(gql, http_receiver, ids)
        shown = {c["name"]: c for c in (await data(gql, CHANNELS))["channels"]}
        assert shown["hook"]["url"] == f"http://127.0.0.1:{http_receiver.port}/..."
        assert shown["hook"]["hasSecret"] is True

    # k1 retired: everything still reads and delivers, after a restart too
    write_keyring(keyring, "k2", {"k2": K2})
    async with gateway(settings) as app, admin(app, settings, "acme") as gql:
        await delivered(gql, http_receiver, ids)
        names = sorted(c["name"] for c in (await data(gql, CHANNELS))["channels"])
        assert names == ["hook", "mail", "slack"]
    await assert_no_plaintext(settings, http_receiver)


async def test_a_secret_copied_to_another_tenant_does_not_open_there(
    settings: Settings, keyring: Path, http_receiver: HttpReceiver
) -> None:
    async with gateway(settings) as app, admin(app, settings, "acme") as acme:
        ids = await make_channels(acme, http_receiver)
        store = build_config_store(settings)
        try:
            found = await store.get_document(CHANNEL, "acme", ids["hook"])
            assert found is not None
            await store.put_document(CHANNEL, "globex", ids["hook"], found[1])
        finally:
            await store.close()
        async with admin(app, settings, "globex") as globex:
            body = await globex.execute(CHANNELS)
            assert body["data"] == {"channels": None}
            [error] = body["errors"]
            assert "the stored secret does not open" in error["message"]
            assert ids["hook"] in error["message"]
            for secret in secrets_of(http_receiver):
                assert secret not in str(body)
            result = await globex.execute(TEST_CHANNEL, {"id": ids["hook"]})
            assert "does not open" in result["errors"][0]["message"]
        assert len((await data(acme, CHANNELS))["channels"]) == 3  # the owner is unaffected
        assert http_receiver.requests == []

        # globex's own channel still delivers beside the one that does not open
        own = build_config_store(settings)
        try:
            await AlertDocuments(own, Secrets(load_keyring(keyring))).put_channel(
                Channel(
                    "c-own", "globex", "own", ChannelKind.WEBHOOK, url=http_receiver.url("/own")
                ),
                expected_version=0,
            )
        finally:
            await own.close()
        alerts: AlertService = app.state.gateway.services.alerts
        now = alerts.clock()
        for target in ("hook", "own"):
            notification = {
                "tenant": "globex",
                "id": f"n-{target}",
                "target": target,
                "alertId": "a1",
                "status": "firing",
                "createdAt": now,
            }
            assert await alerts.docs.enqueue(notification, now_ms=now)
        assert await alerts.deliver_now() == 1
        assert [r.path for r in http_receiver.requests] == ["/own"]
        [waiting] = await alerts.outbox.pending("globex")
        assert "does not open" in waiting["last_error"]
        assert waiting["attempts"] == 1


async def test_without_a_keyring_development_makes_one_and_production_stores_no_secret(
    tmp_path: Path, http_receiver: HttpReceiver
) -> None:
    dev = make_settings(tmp_path / "dev", egress_allow=LOCAL_RECEIVERS)
    async with gateway(dev) as app, admin(app, dev, "acme") as gql:
        await make_channels(gql, http_receiver)
    made = dev.data_dir / GENERATED_NAME
    assert made.stat().st_mode & 0o777 == 0o600
    await assert_no_plaintext(dev, http_receiver)

    prod = make_settings(
        tmp_path / "prod", env="production", admin_port=9, egress_allow=LOCAL_RECEIVERS
    )
    # another tenant: with Redis, both gateways share one store
    async with gateway(prod) as app, admin(app, prod, "initech") as gql:
        body = await gql.execute(
            "mutation($c: ChannelInput!) { createChannel(input: $c) { id } }",
            {"c": {"name": "hook", "kind": "WEBHOOK", "url": http_receiver.url("/hook"),
                   "secret": WEBHOOK_SECRET}},
        )  # fmt: skip
        assert "the gateway has no encryption key" in body["errors"][0]["message"]
        assert (await data(gql, CHANNELS))["channels"] == []
    assert not (prod.data_dir / GENERATED_NAME).exists()


def test_serve_refuses_a_malformed_keyring_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "keys.json"
    bad.write_text('{"active": "k9", "keys": {"k1": "c2hvcnQ="}}')
    result = subprocess.run(
        [sys.executable, "-m", "analytics_gateway", "serve", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ANALYTICS_ENCRYPTION_KEYS_FILE": str(bad)},
        check=False,
    )
    assert result.returncode == 2
    assert "key 'k1' has 5 bytes; AES-256 needs 32" in result.stderr
    assert result.stdout == ""


def test_a_sealed_value_opens_only_in_its_place_and_with_its_key(
    tmp_path: Path, keyring: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = Secrets(load_keyring(keyring))
    place = Place("acme", CHANNEL, "c1", "secret")
    sealed = secrets.seal("s3cret", place)
    assert isinstance(sealed, dict)
    assert sealed["kek"] == "k1"
    assert secrets.seal("s3cret", place) != sealed  # a fresh data key and nonce each time
    assert secrets.open(sealed, place) == "s3cret"
    assert secrets.open("legacy plaintext", place) == "legacy plaintext"
    assert secrets.seal("", place) == ""
    elsewhere = [
        Place("globex", CHANNEL, "c1", "secret"),
        Place("acme", CHANNEL, "c2", "secret"),
        Place("acme", CHANNEL, "c1", "password"),
        Place("acme", "dashboard", "c1", "secret"),
    ]
    for other in elsewhere:
        with pytest.raises(SecretUnreadable, match="does not open") as caught:
            secrets.open(sealed, other)
        assert "s3cret" not in str(caught.value)
    tampered = {**sealed, "data": sealed["data"][:-4] + "AAA="}
    with pytest.raises(SecretUnreadable, match="does not open"):
        secrets.open(tampered, place)
    with pytest.raises(SecretUnreadable, match="key 'k7', which the keyring does not hold"):
        secrets.open({**sealed, "kek": "k7"}, place)

    readable = tmp_path / "readable.json"
    readable.write_bytes(keyring.read_bytes())
    readable.chmod(0o644)
    load_keyring(readable)
    assert "readable by every user of this host" in caplog.text


class RacingStore(SQLiteConfigStore):
    """Another writer changes a document between rotation's read and its write, once."""

    raced = False

    async def put_document(
        self,
        kind: str,
        tenant: str,
        doc_id: str,
        document: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> int:
        if not self.raced and expected_version is not None:
            self.raced = True
            current = await self.get_document(kind, tenant, doc_id)
            assert current is not None
            await super().put_document(kind, tenant, doc_id, {**current[1], "name": "renamed"})
        return await super().put_document(kind, tenant, doc_id, document, expected_version)


async def test_rotation_retries_a_document_changed_meanwhile_and_keeps_the_change(
    tmp_path: Path, keyring: Path
) -> None:
    store = RacingStore(tmp_path / "config.sqlite3")
    try:
        before = AlertDocuments(store, Secrets(load_keyring(keyring)))
        channel = Channel("c1", "acme", "hook", ChannelKind.WEBHOOK, url="https://h.example/x",
                          secret=WEBHOOK_SECRET)  # fmt: skip
        store.raced = True  # not yet
        await before.put_channel(channel, expected_version=0)
        store.raced = False
        write_keyring(keyring, "k2", {"k1": K1, "k2": K2})
        after = Secrets(load_keyring(keyring))

        report = await rotate(store, after, SEALED)
        assert (report.rewritten, report.fields, report.retried, report.failed) == (1, 2, 1, [])
        assert await count_by_key(store, SEALED) == {"k2": 2}
        opened = await AlertDocuments(store, after).channel("acme", "c1")
        assert opened is not None
        assert (opened.name, opened.url, opened.secret) == (
            "renamed", "https://h.example/x", WEBHOOK_SECRET,
        )  # fmt: skip
        again = await rotate(store, after, SEALED)
        assert (again.rewritten, again.unchanged) == (0, 1)
    finally:
        await store.close()
