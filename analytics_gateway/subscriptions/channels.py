"""Channel names. Every channel is tenant-scoped: the tenant is part of the name."""

from __future__ import annotations

PREFIX = "ag"


def metric_channel(tenant: str, metric: str) -> str:
    return f"{PREFIX}:{tenant}:metric:{metric}"


def events_channel(tenant: str) -> str:
    return f"{PREFIX}:{tenant}:events"


def alerts_channel(tenant: str) -> str:
    return f"{PREFIX}:{tenant}:alerts"


def anomalies_channel(tenant: str) -> str:
    return f"{PREFIX}:{tenant}:anomalies"
