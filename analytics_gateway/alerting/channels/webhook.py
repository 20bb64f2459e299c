"""Webhooks: the notification as JSON, POSTed with an HMAC-SHA256 signature.

Headers a receiver checks:

    X-Alert-Notification-Id   the notification id (deduplicate on it)
    X-Alert-Timestamp         epoch milliseconds of this attempt
    X-Alert-Signature         sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>

Signing the timestamp with the body lets a receiver refuse old replays. Each
attempt has the channel's timeout; connection errors, timeouts, 429 and 5xx
are retried up to `max_retries` times with exponential backoff, other 4xx are
permanent. The outbox retries later what still fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from analytics_gateway.alerting.channels.base import DeliveryError
from analytics_gateway.alerting.model import Channel

BACKOFF_S = 0.2
SIGNATURE_HEADER = "X-Alert-Signature"
TIMESTAMP_HEADER = "X-Alert-Timestamp"
ID_HEADER = "X-Alert-Notification-Id"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time comparison of the signature header."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


async def post_json(
    client: httpx.AsyncClient,
    channel: Channel,
    body: bytes,
    headers: Mapping[str, str],
    *,
    sign: bool,
) -> None:
    """POST with retries and backoff; raise `DeliveryError` when it does not arrive."""
    last = "not sent"
    for attempt in range(channel.max_retries + 1):
        if attempt:
            await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
        sent_headers = {"content-type": "application/json", **headers}
        if sign:
            timestamp = str(int(time.time() * 1000))
            sent_headers[TIMESTAMP_HEADER] = timestamp
            sent_headers[SIGNATURE_HEADER] = signature(channel.secret, timestamp, body)
        try:
            response = await client.post(
                channel.url, content=body, headers=sent_headers, timeout=channel.timeout_ms / 1000
            )
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if response.status_code < 300:
            return
        last = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code < 500 and response.status_code not in (408, 429):
            raise DeliveryError(last, permanent=True)
    raise DeliveryError(last)


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        body = orjson.dumps(notification)
        await post_json(
            self._client, channel, body, {ID_HEADER: str(notification["id"])}, sign=True
        )
