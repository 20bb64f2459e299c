"""`analytics-gateway audit verify` and `audit head`: walk each chain, name the first bad
entry; print each chain's head, to keep away from the store.

`audit head` prints one `<tenant> <hash>` line per chain. Kept somewhere the store's
writers cannot reach (another host, write-once storage) and handed back later as
`audit verify --expect-head FILE`, it catches what the chain alone cannot: a rewrite
of every entry's hash and of the head. Heads must be saved more often than the
retention (`ANALYTICS_AUDIT_RETENTION`) trims, or a kept head is trimmed away too.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

from analytics_gateway.audit.trail import verify
from analytics_gateway.backends.base import ConfigStore


async def verify_chains(
    store: ConfigStore,
    tenant: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    kept_heads: Mapping[str, str] | None = None,
) -> int:
    """0 when every chain (or `tenant`'s) verifies, passing its kept head if one is given;
    1 at the first bad entry, named. Prints to `sys.stdout`/`sys.stderr` as they are at
    the call (a default bound at import would miss a redirect)."""
    out, err = out or sys.stdout, err or sys.stderr
    kept = dict(kept_heads or {})
    if tenant is not None:
        tenants = [tenant]
    else:  # a chain whose head was kept must still be there
        tenants = sorted(set(await store.audit_tenants()) | set(kept))
    for name in tenants:
        checked, broken = await verify(store, name, kept.get(name))
        if broken is not None:
            print(
                f"tenant {name}: entry {broken.entry_id} is bad: {broken.reason} "
                f"({checked} entries before it verified)",
                file=err,
            )
            return 1
        print(f"tenant {name}: {checked} entries verified", file=out)
    if not tenants:
        print("no audit entries", file=out)
    return 0


async def print_heads(
    store: ConfigStore, tenant: str | None = None, out: TextIO | None = None
) -> int:
    """One `<tenant> <head hash>` line per chain (or `tenant`'s), as `read_heads` reads them."""
    out = out or sys.stdout
    for name in [tenant] if tenant is not None else await store.audit_tenants():
        _, head = await store.audit_ends(name)
        print(f"{name} {head}", file=out)
    return 0


def read_heads(text: str) -> dict[str, str]:
    """`audit head`'s output: blank lines and `#` comments aside, `<tenant> <hash>`."""
    heads: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) > 2:
            raise ValueError(f"line {number}: expected '<tenant> <hash>', got {line.strip()!r}")
        heads[fields[0]] = fields[1] if len(fields) == 2 else ""
    return heads
