"""Heads kept outside the store: a chain rewritten whole (every hash and the head, so it
verifies on its own) no longer holds the head kept earlier, and `verify` says so."""

from __future__ import annotations

import io

import pytest

from analytics_gateway.audit import verify
from analytics_gateway.audit.report import print_heads, read_heads, verify_chains
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from tests.audit.conftest import Store
from tests.audit.tamper import erase_chain
from tests.audit.test_chain import record_n, trail_on


async def heads_of(store: Store) -> str:
    out = io.StringIO()
    assert await print_heads(store.config, None, out) == 0
    return out.getvalue()


async def test_a_kept_head_is_passed_while_the_chain_grows(store: Store) -> None:
    trail, _ = trail_on(store.config)
    await record_n(trail, 3)
    await record_n(trail, 2, tenant="globex")
    kept = read_heads(await heads_of(store))
    assert set(kept) == {"acme", "globex"}
    assert kept["acme"] == (await store.config.audit_ends("acme"))[1]
    await record_n(trail, 4)  # later entries follow the kept head
    out, err = io.StringIO(), io.StringIO()
    assert await verify_chains(store.config, None, out, err, kept) == 0, err.getvalue()
    assert "tenant acme: 7 entries verified" in out.getvalue()


async def test_a_rewritten_chain_verifies_alone_but_not_against_its_kept_head(
    store: Store,
) -> None:
    trail, _ = trail_on(store.config)
    await record_n(trail, 5)
    kept = read_heads(await heads_of(store))
    # someone with the store's credentials drops the chain and writes another in its place
    await erase_chain(store.url, "acme")
    forger = build_config_store(Settings.from_env({}, config_url=store.url))
    try:
        forged, _ = trail_on(forger)
        await record_n(forged, 4)
    finally:
        await forger.close()
    assert await verify(store.config, "acme") == (4, None)  # the chain alone cannot tell
    checked, broken = await verify(store.config, "acme", kept["acme"])
    assert checked == 4
    assert broken is not None
    assert "is not in the chain" in broken.reason
    out, err = io.StringIO(), io.StringIO()
    assert await verify_chains(store.config, None, out, err, kept) == 1
    assert "tenant acme: entry" in err.getvalue()


async def test_a_chain_deleted_whole_is_missed_when_its_head_was_kept(store: Store) -> None:
    trail, _ = trail_on(store.config)
    await record_n(trail, 2, tenant="globex")
    await record_n(trail, 2)
    kept = read_heads(await heads_of(store))
    await erase_chain(store.url, "globex")
    out, err = io.StringIO(), io.StringIO()
    assert await verify_chains(store.config, None, out, err) == 0  # nothing left to doubt
    assert await verify_chains(store.config, None, out, err, kept) == 1
    assert "tenant globex: entry (none) is bad" in err.getvalue()


def test_the_heads_file_is_read_as_audit_head_writes_it() -> None:
    text = "# kept 2026-12-07\nacme 0a1b\n\nglobex   ff00  # trailing note\nempty\n"
    assert read_heads(text) == {"acme": "0a1b", "globex": "ff00", "empty": ""}
    with pytest.raises(ValueError, match="line 2"):
        read_heads("acme 0a1b\nacme 0a1b extra\n")
