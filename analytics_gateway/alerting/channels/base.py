"""What every sender does, and how it fails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from analytics_gateway.alerting.model import Channel


class DeliveryError(Exception):
    """A send that did not arrive. `permanent`: retrying cannot help (e.g. HTTP 400)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        """Deliver or raise `DeliveryError`; never hangs past the channel's timeout."""
