"""The audit chain on every config store: linear under concurrent appends, verifiable,
and broken (at the right entry) by an edit or a deletion; retention keeps it verifiable."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable, Mapping

import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.audit import AuditMetrics, AuditTrail, verify
from analytics_gateway.audit.report import verify_chains
from analytics_gateway.backends.base import AuditSeal, ConfigStore
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.errors import BackendUnavailable, Forbidden, Unauthenticated
from tests.audit.conftest import Store
from tests.audit.tamper import delete_entry, edit_entry

DAY_MS = 86_400_000


class Clock:
    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def trail_on(
    config: ConfigStore, clock: Callable[[], int] | None = None, retention: str = "400d"
) -> tuple[AuditTrail, CollectorRegistry]:
    registry = CollectorRegistry()
    trail = AuditTrail(
        config,
        clock or Clock(),
        AuditMetrics(registry),
        operator_tenant="_system",
        retention=retention,
    )
    return trail, registry


async def record_n(trail: AuditTrail, n: int, tenant: str = "acme") -> list[str]:
    ids = []
    for i in range(n):
        stored = await trail.record(
            tenant=tenant, actor=f"key:k{i % 2}", action=f"act{i % 3}", target=f"t{i}"
        )
        assert stored is not None
        ids.append(stored)
    return ids


async def test_entries_chain_in_order_and_verify(store: Store) -> None:
    trail, registry = trail_on(store.config)
    ids = await record_n(trail, 5)
    await record_n(trail, 2, tenant="globex")
    entries = await store.config.audit_entries("acme")
    assert [i for i, _ in entries] == ids
    assert entries[0][1]["prev"] == ""
    for (_, before), (_, after) in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    assert await store.config.audit_ends("acme") == ("", entries[-1][1]["hash"])
    assert await verify(store.config, "acme") == (5, None)
    assert await store.config.audit_tenants() == ["acme", "globex"]
    assert registry.get_sample_value("gateway_audit_entries_total", {"kind": "mutation"}) == 7


async def test_appends_from_two_processes_form_one_linear_chain(store: Store) -> None:
    other = build_config_store(Settings.from_env({}, config_url=store.url))
    try:
        first, _ = trail_on(store.config)
        second, _ = trail_on(other)
        await asyncio.gather(record_n(first, 30), record_n(second, 30))
    finally:
        await other.close()
    assert await verify(store.config, "acme") == (60, None)


async def test_an_edited_entry_is_named(store: Store) -> None:
    trail, _ = trail_on(store.config)
    ids = await record_n(trail, 6)
    await edit_entry(store.url, "acme", ids[3], "outcome", "ok-but-not")
    checked, broken = await verify(store.config, "acme")
    assert checked == 3
    assert broken is not None
    assert broken.entry_id == ids[3]
    assert "edited" in broken.reason


async def test_a_deleted_entry_breaks_the_chain_at_the_next_one(store: Store) -> None:
    trail, _ = trail_on(store.config)
    ids = await record_n(trail, 6)
    await delete_entry(store.url, "acme", ids[2])
    checked, broken = await verify(store.config, "acme")
    assert (checked, broken and broken.entry_id) == (2, ids[3])
    assert broken is not None
    assert "deleted" in broken.reason


async def test_deleting_the_newest_or_oldest_entry_shows_too(store: Store) -> None:
    trail, _ = trail_on(store.config)
    ids = await record_n(trail, 4)
    await record_n(trail, 4, tenant="globex")
    await delete_entry(store.url, "acme", ids[-1])
    _, broken = await verify(store.config, "acme")
    assert broken is not None
    assert broken.entry_id == ids[-2]
    assert "ends early" in broken.reason
    globex = [i for i, _ in await store.config.audit_entries("globex")]
    await delete_entry(store.url, "globex", globex[0])
    _, broken = await verify(store.config, "globex")
    assert broken is not None
    assert broken.entry_id == globex[1]


async def test_verify_report_names_the_tenant_and_entry(store: Store) -> None:
    trail, _ = trail_on(store.config)
    await record_n(trail, 3, tenant="globex")
    ids = await record_n(trail, 3)
    out, err = io.StringIO(), io.StringIO()
    assert await verify_chains(store.config, None, out, err) == 0
    assert "tenant acme: 3 entries verified" in out.getvalue()
    await edit_entry(store.url, "acme", ids[1], "actor", "key:someone-else")
    assert await verify_chains(store.config, "globex", out, err) == 0
    assert await verify_chains(store.config, None, out, err) == 1
    assert f"tenant acme: entry {ids[1]} is bad" in err.getvalue()


async def test_retention_trims_old_entries_and_keeps_the_chain_verifiable(store: Store) -> None:
    clock = Clock()
    trail, registry = trail_on(store.config, clock, retention="10d")
    old = await record_n(trail, 5)
    clock.now_ms += 11 * DAY_MS
    kept = await record_n(trail, 3)
    assert await trail.trim() == 5
    assert [i for i, _ in await store.config.audit_entries("acme")] == kept
    anchor, _ = await store.config.audit_ends("acme")
    assert anchor != ""
    assert await verify(store.config, "acme") == (3, None)
    assert registry.get_sample_value("gateway_audit_trimmed_total") == 5
    assert old  # dropped, yet the first kept entry still follows the anchor
    clock.now_ms += 20 * DAY_MS
    assert await trail.trim() == 3
    assert await store.config.audit_entries("acme") == []
    assert await verify(store.config, "acme") == (0, None)
    await record_n(trail, 1)
    assert await verify(store.config, "acme") == (1, None)


async def test_pages_newest_first_with_filters_and_cursors(store: Store) -> None:
    clock = Clock()
    trail, _ = trail_on(store.config, clock)
    for i in range(12):
        clock.now_ms += 1000
        await trail.record(tenant="acme", actor=f"key:k{i % 2}", action=f"act{i % 3}")
    page = await trail.page("acme", first=5)
    assert [e.time_ms for e in page.entries] == sorted(
        (e.time_ms for e in page.entries), reverse=True
    )
    assert page.has_next
    assert page.end_cursor == page.entries[-1].id
    seen = [e.id for e in page.entries]
    while page.has_next:
        page = await trail.page("acme", first=5, after=page.end_cursor)
        seen += [e.id for e in page.entries]
    assert len(seen) == len(set(seen)) == 12
    act0 = await trail.page("acme", first=100, action="act0")
    assert len(act0.entries) == 4
    assert {e.action for e in act0.entries} == {"act0"}
    both = await trail.page("acme", first=100, action="act0", actor="key:k0")
    assert {(e.action, e.actor) for e in both.entries} == {("act0", "key:k0")}
    since = await trail.page("acme", first=100, since_ms=clock.now_ms - 2500)
    assert len(since.entries) == 3
    assert not since.has_next


class FailingStore:
    """A config store whose audit appends fail, as a store outage does."""

    def __init__(self, inner: ConfigStore) -> None:
        self.inner = inner

    async def append_audit(self, tenant: str, seal: AuditSeal) -> str:
        raise BackendUnavailable("config store (test) is down", backend="config")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_an_outage_is_logged_and_counted_not_raised(store: Store) -> None:
    failing: ConfigStore = FailingStore(store.config)  # type: ignore[assignment]
    trail, registry = trail_on(failing)
    assert await trail.record(tenant="acme", actor="key:k", action="deleteAlert") is None
    assert registry.get_sample_value("gateway_audit_failures_total", {"reason": "unavailable"}) == 1
    assert await store.config.audit_entries("acme") == []


async def test_refused_credentials_are_summarised_per_source(store: Store) -> None:
    trail, registry = trail_on(store.config)
    for _ in range(3):
        trail.note_refusal(Unauthenticated("invalid API key"), "10.0.0.1")
    trail.note_refusal(Unauthenticated("invalid API key"), "10.0.0.2")
    trail.note_refusal(Forbidden("no scope"), "10.0.0.3")  # not a refused credential
    await trail.flush_refusals()
    await trail.flush_refusals()  # nothing new: nothing written
    entries: list[Mapping[str, str]] = [f for _, f in await store.config.audit_entries("_system")]
    assert [(f["actor"], f["count"], f["outcome"], f["action"]) for f in entries] == [
        ("source:10.0.0.1", "3", "UNAUTHENTICATED", "refusedCredentials"),
        ("source:10.0.0.2", "1", "UNAUTHENTICATED", "refusedCredentials"),
    ]
    assert registry.get_sample_value("gateway_audit_entries_total", {"kind": "refusal"}) == 2


def test_the_retention_setting_is_checked_when_read() -> None:
    assert Settings.from_env({}).audit_retention == "400d"
    assert Settings.from_env({"ANALYTICS_AUDIT_RETENTION": "0"}).audit_retention == "0"
    for bad in ("forever", "400", "-1d", "1y"):
        with pytest.raises(ValueError, match="ANALYTICS_AUDIT_RETENTION"):
            Settings.from_env({"ANALYTICS_AUDIT_RETENTION": bad})
