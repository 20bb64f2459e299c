"""The embedded store's table names: each tenant's points and events are tables of
their own. In shared tables a read scanned every tenant's rows in its time range
(DuckDB keeps no index that would skip them), so one tenant's volume slowed every
other tenant's reads (`python -m bench --only neighbour-volume`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

EVENTS = "__events__"
"""Where an events query names its table; `on_events` puts the tenant's in."""

EventsOf = Callable[[str], str]
"""A tenant's events table, or the empty shared one when it has none yet."""

SHARED_EVENTS = "events"


def _digest(tenant: str) -> str:
    # a digest: any tenant id makes a plain identifier, and none can name another's
    return hashlib.blake2b(tenant.encode(), digest_size=16).hexdigest()


def points_table(tenant: str) -> str:
    return "points_" + _digest(tenant)


def events_table(tenant: str) -> str:
    return "events_" + _digest(tenant)


def on_events(sql: str, table: str) -> str:
    """`sql` reading `table` wherever it names `EVENTS`."""
    if EVENTS not in sql:
        raise ValueError("an events query must name its table as EVENTS")
    return sql.replace(EVENTS, table)
