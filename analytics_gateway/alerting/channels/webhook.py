"""Webhooks: the notification as JSON, POSTed with an HMAC-SHA256 signature.

Headers a receiver checks:

    X-Alert-Notification-Id   the notification id (deduplicate on it)
    X-Alert-Timestamp         epoch milliseconds of this attempt
    X-Alert-Signature         sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>

Signing the timestamp with the body lets a receiver refuse old replays. Each
attempt has the channel's timeout, capped at `MAX_ATTEMPT_SECONDS`;
connection errors, timeouts, 408, 429 and 5xx are retried up to
`max_retries` times with exponential backoff, other 4xx are permanent. The
outbox retries later what still fails.

Every request goes through the egress policy (`analytics_gateway.egress`):
the receiver's address is checked, no redirect is followed. What a failure
reports is a status class and a reason of our own: a receiver's reply body
is never read, so it can never be shown back to the tenant.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from analytics_gateway import tracing
from analytics_gateway.alerting.channels.base import DeliveryError, Outcome
from analytics_gateway.alerting.model import Channel
from analytics_gateway.egress import EgressBlocked, EgressPolicy, EgressRefused

BACKOFF_S = 0.2
MAX_ATTEMPT_SECONDS = 10.0
SIGNATURE_HEADER = "X-Alert-Signature"
TIMESTAMP_HEADER = "X-Alert-Timestamp"
ID_HEADER = "X-Alert-Notification-Id"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time comparison of the signature header."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def attempt_seconds(channel: Channel) -> float:
    return min(channel.timeout_ms / 1000, MAX_ATTEMPT_SECONDS)


def status_error(status: int) -> DeliveryError:
    """What an HTTP status means for a notification, in words of our own."""
    if 300 <= status < 400:
        reason = f"HTTP {status}: the receiver redirected; redirects are not followed"
        return DeliveryError(reason, permanent=True, outcome=Outcome.REDIRECTED)
    if status in (408, 429):
        reason = f"HTTP {status}: the receiver asked to retry later"
        return DeliveryError(reason, outcome=Outcome.FAILED)
    if status < 500:
        reason = f"HTTP {status}: the receiver refused the notification"
        return DeliveryError(reason, permanent=True, outcome=Outcome.REFUSED)
    return DeliveryError(f"HTTP {status}: the receiver failed", outcome=Outcome.FAILED)


def blocked(refused: EgressRefused) -> DeliveryError:
    reason = f"refused by the egress policy: {refused.message}"
    return DeliveryError(reason, permanent=True, outcome=Outcome.BLOCKED)


def _connection_error(exc: aiohttp.ClientError) -> DeliveryError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, EgressBlocked):
            return blocked(cause.refused)
        reason = f"could not connect ({cause.strerror or type(cause).__name__})"
        return DeliveryError(reason, outcome=Outcome.UNREACHABLE)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        reason = "the receiver closed the connection without answering"
        return DeliveryError(reason, outcome=Outcome.UNREACHABLE)
    return DeliveryError(f"the request failed ({type(exc).__name__})", outcome=Outcome.UNREACHABLE)


async def post_json(
    session: aiohttp.ClientSession,
    policy: EgressPolicy,
    channel: Channel,
    body: bytes,
    headers: Mapping[str, str],
    *,
    sign: bool,
) -> None:
    """POST with retries and backoff; raise `DeliveryError` when it does not arrive."""
    try:
        policy.check_literal_url(channel.url)
    except EgressRefused as exc:
        raise blocked(exc) from None
    seconds = attempt_seconds(channel)
    timeout = aiohttp.ClientTimeout(total=seconds)
    last = DeliveryError("not sent", outcome=Outcome.UNREACHABLE)
    for attempt in range(channel.max_retries + 1):
        if attempt:
            await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
        sent_headers = tracing.inject({"content-type": "application/json", **headers})
        if sign:
            timestamp = str(int(time.time() * 1000))
            sent_headers[TIMESTAMP_HEADER] = timestamp
            sent_headers[SIGNATURE_HEADER] = signature(channel.secret, timestamp, body)
        try:
            async with session.post(
                channel.url,
                data=body,
                headers=sent_headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                status = response.status  # the reply body is never read
        except TimeoutError:
            last = DeliveryError(f"timed out after {seconds:g}s", outcome=Outcome.TIMED_OUT)
            continue
        except aiohttp.ClientError as exc:
            last = _connection_error(exc)
            if last.permanent:
                raise last from None
            continue
        if status < 300:
            return
        last = status_error(status)
        if last.permanent:
            raise last
    raise last


class WebhookSender:
    def __init__(self, session: aiohttp.ClientSession, policy: EgressPolicy) -> None:
        self._session = session
        self._policy = policy

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        body = orjson.dumps(notification)
        headers = {ID_HEADER: str(notification["id"])}
        await post_json(self._session, self._policy, channel, body, headers, sign=True)
