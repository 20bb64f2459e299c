"""The sender for each channel kind, sharing one HTTP session kept to the egress policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from analytics_gateway.alerting.channels.base import Sender
from analytics_gateway.alerting.channels.email import EmailSender
from analytics_gateway.alerting.channels.slack import SlackSender
from analytics_gateway.alerting.channels.webhook import MAX_ATTEMPT_SECONDS, WebhookSender
from analytics_gateway.alerting.model import Channel, ChannelKind
from analytics_gateway.egress import EgressPolicy, connector_kwargs


class Senders:
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._by_kind: dict[ChannelKind, Sender] | None = None

    def _senders(self) -> dict[ChannelKind, Sender]:
        """Built on first use: an aiohttp session belongs to the running event loop."""
        if self._by_kind is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(**connector_kwargs(self.policy)),
                trust_env=False,  # no proxy from the environment: the policy decides
            )
            self._by_kind = {
                ChannelKind.WEBHOOK: WebhookSender(self._session, self.policy),
                ChannelKind.SLACK: SlackSender(self._session, self.policy),
                ChannelKind.EMAIL: EmailSender(self.policy, MAX_ATTEMPT_SECONDS),
            }
        return self._by_kind

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        await self._senders()[channel.kind].send(channel, notification)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
