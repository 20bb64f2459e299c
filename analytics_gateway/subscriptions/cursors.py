"""Live-stream positions: broker message ids and the cursors clients resume from.

A broker message id has Redis Stream form `<ms>-<seq>`; ids of one channel
grow strictly. One message can carry several items (points of a batch,
events), so the cursor a client sees is `<message id>:<item index>`, and
`since` resumes exactly after that item.
"""

from __future__ import annotations

import re

from analytics_gateway.errors import BadUserInput

MessageId = tuple[int, int]

_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20}):(\d{1,9})$")


def parse_message_id(text: str) -> MessageId:
    match = _ID.match(text)
    if match is None:
        raise ValueError(f"not a message id: {text!r}")
    return int(match[1]), int(match[2])


def format_message_id(message_id: MessageId) -> str:
    return f"{message_id[0]}-{message_id[1]}"


def cursor(message_id: str, index: int) -> str:
    return f"{message_id}:{index}"


def parse_cursor(text: str) -> tuple[MessageId, int]:
    """`since` from a client: `<ms>-<seq>:<index>`, as some earlier item's `cursor`."""
    match = _CURSOR.match(text)
    if match is None:
        raise BadUserInput(
            f"since: {text!r} is not a cursor; pass the `cursor` of the last item received",
            parameter="since",
        )
    return (int(match[1]), int(match[2])), int(match[3])
