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


def channel_kind(channel: str) -> str:
    """`metric`, `events`, `alerts`...: what a channel carries, without whose it is
    (tenant names hold no ':')."""
    parts = channel.split(":", 3)
    return parts[2] if len(parts) > 2 and parts[0] == PREFIX else "other"
