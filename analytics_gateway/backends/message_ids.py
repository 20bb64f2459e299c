"""Broker message ids: `<ms>-<seq>`, the Redis Stream form, growing strictly per channel.

Both brokers hand them out and compare them; the cursors clients resume from
(`subscriptions.cursors`) are built on them.
"""

from __future__ import annotations

import re

MessageId = tuple[int, int]

_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")


def parse_message_id(text: str) -> MessageId:
    match = _ID.match(text)
    if match is None:
        raise ValueError(f"not a message id: {text!r}")
    return int(match[1]), int(match[2])


def format_message_id(message_id: MessageId) -> str:
    return f"{message_id[0]}-{message_id[1]}"


def tenant_of(channel: str) -> str:
    """Channels are `ag:<tenant>:...`: their first two parts name the tenant."""
    return ":".join(channel.split(":")[:2])
