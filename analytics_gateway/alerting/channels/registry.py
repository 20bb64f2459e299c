"""The sender for each channel kind, sharing one HTTP client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from analytics_gateway.alerting.channels.base import Sender
from analytics_gateway.alerting.channels.email import EmailSender
from analytics_gateway.alerting.channels.slack import SlackSender
from analytics_gateway.alerting.channels.webhook import WebhookSender
from analytics_gateway.alerting.model import Channel, ChannelKind


class Senders:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._by_kind: dict[ChannelKind, Sender] = {
            ChannelKind.WEBHOOK: WebhookSender(client),
            ChannelKind.SLACK: SlackSender(client),
            ChannelKind.EMAIL: EmailSender(),
        }

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        await self._by_kind[channel.kind].send(channel, notification)

    async def close(self) -> None:
        await self.client.aclose()
