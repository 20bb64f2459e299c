"""Gzip for responses, where one tenant's big answers can't take the CPU from the rest.

Gzip is the dearest step of a big read: 180 ms of CPU for a 4.6 MB answer at
level 5, against 40 ms at level 1 for an answer 8% bigger. Starlette moves
big bodies to worker threads, up to forty at once: one tenant's four big
answers then fill both cores and every other request waits its turn for CPU,
though the event loop itself is free. Here a body of `BULK_BYTES` or more is
compressed at level 1, one at a time, on a thread of its own that the kernel
schedules behind the event loop (a higher nice value, on Linux). Smaller
bodies are compressed as before, inline at the configured level.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send

BULK_BYTES = 128 * 1024
BULK_LEVEL = 1
BULK_NICE = 10  # added to the process's nice value, for the bulk thread alone

_bulk: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    """Run this thread behind the event loop: Linux schedules threads one by one."""
    if sys.platform == "linux":
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BULK_NICE)
        except OSError:  # not allowed here: the thread runs at the usual priority
            pass


def bulk_executor() -> ThreadPoolExecutor:
    """The one thread big bodies are compressed on, in turn."""
    global _bulk
    if _bulk is None:
        _bulk = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gzip-bulk", initializer=_lower_priority
        )
    return _bulk


class _Responder(GZipResponder):
    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if len(body) < BULK_BYTES:
            return self._compress_body(body, more_body)
        if self._compressor is None:  # the first chunk is big: the whole answer is
            self.compresslevel = BULK_LEVEL
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(bulk_executor(), self._compress_body, body, more_body)


class Compression(GZipMiddleware):
    """Starlette's `GZipMiddleware`, with big bodies compressed in the bulk lane."""

    def __init__(self, app: ASGIApp, minimum_size: int = 1024, compresslevel: int = 5) -> None:
        super().__init__(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "gzip" not in Headers(scope=scope).get("Accept-Encoding", ""):
            await super().__call__(scope, receive, send)
            return
        responder: IdentityResponder = _Responder(
            self.app,
            self.minimum_size,
            compresslevel=self.compresslevel,
            exclude_content_types=self.exclude_content_types,
        )
        await responder(scope, receive, send)
