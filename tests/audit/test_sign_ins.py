"""Sign-ins: a credential's first successful use in an hour is one `signIn` entry, written
off the request's path; the check on every other use is one dict lookup, in a capped map."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from analytics_gateway.audit import trail as trail_module
from analytics_gateway.audit.sign_ins import HOUR_MS, SignIns
from analytics_gateway.audit.trail import SIGN_IN, AuditTrail
from analytics_gateway.auth import Authenticator, create_key, parse_scopes
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import Unauthenticated
from tests.audit.conftest import Store
from tests.audit.test_chain import Clock, trail_on


def test_a_mark_lasts_an_hour() -> None:
    marks = SignIns()
    assert marks.is_new(("acme", "k1"), 0)
    assert not marks.is_new(("acme", "k1"), HOUR_MS - 1)
    assert marks.is_new(("globex", "k1"), 1)  # another tenant's actor of the same name
    assert marks.is_new(("acme", "k1"), HOUR_MS)
    assert not marks.is_new(("acme", "k1"), 2 * HOUR_MS - 1)


def test_a_flood_of_actors_evicts_the_oldest_marks_and_memory_stays_bounded() -> None:
    marks = SignIns(capacity=3)
    for i in range(1000):
        assert marks.is_new(("acme", f"k{i}"), i)
    assert len(marks) == 3
    assert not marks.is_new(("acme", "k999"), 1000)  # the newest marks are kept
    assert marks.is_new(("acme", "k0"), 1000)  # the oldest went first
    marks.forget(("acme", "k0"))
    assert marks.is_new(("acme", "k0"), 1001)


def key_principal(tenant: str = "acme", key_id: str = "k1") -> Principal:
    return Principal(tenant=tenant, key_id=key_id, scopes=frozenset({Scope.READ}))


def token_principal(sub: str) -> Principal:
    return Principal(
        tenant="acme", key_id=f"jwt:{sub}", scopes=frozenset({Scope.READ}), subject=sub
    )


async def sign_ins(store: Store, tenant: str = "acme") -> list[dict[str, str]]:
    return [dict(f) for _, f in await store.config.audit_entries(tenant) if f["action"] == SIGN_IN]


async def test_first_use_in_an_hour_is_recorded_once_per_actor(store: Store) -> None:
    clock = Clock()
    trail, registry = trail_on(store.config, clock)
    for _ in range(5):
        trail.note_sign_in(key_principal(), clock())
    trail.note_sign_in(token_principal("alice"), clock())
    trail.note_sign_in(key_principal("globex", "k9"), clock())
    await trail.settle()
    entries = await sign_ins(store)
    assert [(f["actor"], f["target"], f["outcome"]) for f in entries] == [
        ("key:k1", "k1", "ok"),
        ("jwt:alice", "alice", "ok"),
    ]
    assert [f["actor"] for f in await sign_ins(store, "globex")] == ["key:k9"]
    clock.now_ms += HOUR_MS - 1
    trail.note_sign_in(key_principal(), clock())
    await trail.settle()
    assert len(await sign_ins(store)) == 2
    clock.now_ms += 1
    trail.note_sign_in(key_principal(), clock())
    await trail.settle()
    assert len(await sign_ins(store)) == 3
    assert registry.get_sample_value("gateway_audit_entries_total", {"kind": "signin"}) == 4


async def test_a_backlog_of_writes_defers_sign_ins_to_the_next_use(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trail_module, "MAX_WRITES", 10)
    clock = Clock()
    trail, registry = trail_on(store.config, clock)
    gate = asyncio.Event()
    original = store.config.append_audit

    async def slow(tenant: str, seal: object) -> str:
        await gate.wait()
        return await original(tenant, seal)  # type: ignore[arg-type]

    store.config.append_audit = slow  # type: ignore[method-assign]
    try:
        for i in range(trail_module.MAX_WRITES + 5):
            trail.note_sign_in(key_principal(key_id=f"k{i}"), clock())
        assert registry.get_sample_value("gateway_audit_failures_total", {"reason": "backlog"}) == 5
        gate.set()
        await trail.settle()
    finally:
        store.config.append_audit = original  # type: ignore[method-assign]
    deferred = key_principal(key_id=f"k{trail_module.MAX_WRITES}")
    trail.note_sign_in(deferred, clock())  # not marked when it was deferred: recorded now
    await trail.settle()
    assert len(await sign_ins(store)) == trail_module.MAX_WRITES + 1


class Tokens:
    """An identity provider that vouches for any token (its checks are tested elsewhere)."""

    async def verify(self, token: str) -> Principal:
        return token_principal("bob")


async def test_the_authenticator_reports_keys_and_tokens_that_pass(store: Store) -> None:
    trail, _ = trail_on(store.config)
    auth = Authenticator(store.config, Tokens(), on_sign_in=trail.note_sign_in)
    _, key = await create_key(store.config, "acme", parse_scopes("read"))
    await auth.authenticate(key)
    await auth.authenticate(key)
    await auth.authenticate("aaa.bbb.ccc")
    with contextlib.suppress(Unauthenticated):  # refused: summarised elsewhere, no sign-in
        await auth.authenticate("agk_nope_nope")
    await trail.settle()
    assert [f["actor"] for f in await sign_ins(store)] == [f"key:{key.split('_')[1]}", "jwt:bob"]


async def test_stop_finishes_the_sign_ins_being_written(store: Store) -> None:
    trail: AuditTrail
    trail, _ = trail_on(store.config)
    trail.note_sign_in(key_principal(), Clock()())
    await trail.stop()
    assert len(await sign_ins(store)) == 1
