"""`analytics-gateway audit verify`: walk each chain, name the first bad entry."""

from __future__ import annotations

import sys
from typing import TextIO

from analytics_gateway.audit.trail import verify
from analytics_gateway.backends.base import ConfigStore


async def verify_chains(
    store: ConfigStore,
    tenant: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """0 when every chain (or `tenant`'s) verifies; 1 at the first bad entry, named."""
    tenants = [tenant] if tenant is not None else await store.audit_tenants()
    for name in tenants:
        checked, broken = await verify(store, name)
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
