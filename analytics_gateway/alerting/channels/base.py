"""What every sender does, and how it fails."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

from analytics_gateway.alerting.model import Channel


class Outcome(enum.StrEnum):
    """What became of a delivery, as a class a tenant may see (never the receiver's reply)."""

    DELIVERED = "delivered"
    REFUSED = "refused"  # the receiver answered 4xx
    FAILED = "failed"  # the receiver answered 5xx, 408 or 429
    REDIRECTED = "redirected"  # 3xx: redirects are not followed
    TIMED_OUT = "timed_out"
    UNREACHABLE = "unreachable"  # no connection, or it broke before an answer
    BLOCKED = "blocked"  # the egress policy refused the destination
    INVALID = "invalid"  # the channel cannot be sent to as configured


class DeliveryError(Exception):
    """A send that did not arrive. `permanent`: retrying cannot help (e.g. HTTP 400)."""

    def __init__(
        self, message: str, *, permanent: bool = False, outcome: Outcome = Outcome.FAILED
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.outcome = outcome


class Sender(Protocol):
    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        """Deliver or raise `DeliveryError`; never hangs past the channel's timeout."""
