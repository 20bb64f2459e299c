"""Arguments several root fields share, written once so their contract stays one."""

from __future__ import annotations

from typing import Annotated

import strawberry

Since = Annotated[
    str | None,
    strawberry.argument(
        description="Resume after this `cursor`: first replay what was missed, then "
        "go on live. Fails with RESYNC_REQUIRED when the history no longer reaches back."
    ),
]
