"""Live-stream positions clients resume from.

One broker message can carry several items (points of a batch, events), so
the cursor a client sees is `<message id>:<item index>` (message ids are
`backends.message_ids`), and `since` resumes exactly after that item.
"""

from __future__ import annotations

import re

from analytics_gateway.backends.message_ids import MessageId
from analytics_gateway.errors import BadUserInput

_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20}):(\d{1,9})$")


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
