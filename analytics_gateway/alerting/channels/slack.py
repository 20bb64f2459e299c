"""Slack incoming webhooks: `{"text": ..., "blocks": [...]}` POSTed to the hook URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from analytics_gateway.alerting.channels.base import DeliveryError, Outcome
from analytics_gateway.alerting.channels.webhook import post_json
from analytics_gateway.alerting.model import Channel
from analytics_gateway.alerting.notify import summary
from analytics_gateway.alerting.templates import format_value
from analytics_gateway.egress import EgressPolicy

MAX_ALERTS = 10  # Slack allows 50 blocks; a message stays readable with fewer


def message(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The Slack message: a plain `text` fallback and one section per alert."""
    title = summary(notification)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    alerts = notification["alerts"]
    for alert in alerts[:MAX_ALERTS]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        lines = [f"*{alert['status'].upper()}* `{labels}`"]
        if alert["value"] is not None:
            lines.append(f"value: {format_value(alert['value'])}")
        lines += [f"{k}: {v}" for k, v in alert["annotations"].items()]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if len(alerts) > MAX_ALERTS:
        more = f"...and {len(alerts) - MAX_ALERTS} more"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": title, "blocks": blocks}


class SlackSender:
    def __init__(self, session: aiohttp.ClientSession, policy: EgressPolicy) -> None:
        self._session = session
        self._policy = policy

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        if not channel.url:
            raise DeliveryError(
                "slack channel has no webhook URL", permanent=True, outcome=Outcome.INVALID
            )
        body = orjson.dumps(message(notification))
        await post_json(self._session, self._policy, channel, body, {}, sign=False)
