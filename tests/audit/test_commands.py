"""What the command records: a change once made (or refused, with its code), and each
tenant whose metadata it showed, in that tenant's own chain; the chains still verify."""

from __future__ import annotations

import pytest

from analytics_gateway.audit import verify
from analytics_gateway.audit.commands import READ_METADATA, CommandAudit, cli_actor
from analytics_gateway.errors import NotFound
from tests.audit.conftest import Store


async def entries(store: Store, tenant: str) -> list[tuple[str, str, str, str]]:
    return [
        (f["actor"], f["action"], f["target"], f["outcome"])
        for _, f in await store.config.audit_entries(tenant)
    ]


async def rotate_unknown(audit: CommandAudit) -> None:
    async with audit.change("rotateApiKey") as act:
        act.target = "k3"
        raise NotFound("no key with id 'k3'")


async def test_changes_and_reads_land_in_each_tenants_chain(store: Store) -> None:
    audit = CommandAudit(store.config, "_system", actor="cli:ops")
    async with audit.change("createApiKey") as act:
        act.tenant, act.target = "acme", "k1"
    async with audit.change("revokeApiKey", "globex") as act:
        act.target = "k2"
        act.outcome = NotFound.code  # reported, not raised
    with pytest.raises(NotFound):  # no tenant known: the operator's chain
        await rotate_unknown(audit)
    await audit.read(["acme", "globex", "acme"], "apiKeys")
    await audit.read(["not a tenant!"], "quotas")
    assert await entries(store, "acme") == [
        ("cli:ops", "createApiKey", "k1", "ok"),
        ("cli:ops", READ_METADATA, "apiKeys", "ok"),
    ]
    assert await entries(store, "globex") == [
        ("cli:ops", "revokeApiKey", "k2", "NOT_FOUND"),
        ("cli:ops", READ_METADATA, "apiKeys", "ok"),
    ]
    assert await entries(store, "_system") == [
        ("cli:ops", "rotateApiKey", "k3", "NOT_FOUND"),
        ("cli:ops", READ_METADATA, "quotas", "ok"),
    ]
    request_ids = {f["requestId"] for _, f in await store.config.audit_entries("acme")}
    assert request_ids == {audit.request_id}  # one run, one request id
    for tenant in ("acme", "globex", "_system"):
        assert (await verify(store.config, tenant))[1] is None


def test_the_actor_names_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "ops")
    assert cli_actor() == "cli:ops"
