"""Profiles of the running process on demand, as speedscope files.

pyinstrument samples the event loop's thread (where every request, subscription
and background loop runs) for a bounded time, one profile at a time; the last
few are kept in memory for the operator route to serve.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from pyinstrument import Profiler
from pyinstrument.renderers import SpeedscopeRenderer

from analytics_gateway.errors import BadUserInput, RateLimited

MAX_SECONDS = 60
KEEP = 5
INTERVAL_SECONDS = 0.001


@dataclass(frozen=True)
class Profile:
    id: str
    seconds: float
    samples: int
    speedscope: str  # JSON, https://www.speedscope.app/file-format-schema.json


class Profiles:
    def __init__(self) -> None:
        self._running = asyncio.Lock()
        self._kept: OrderedDict[str, Profile] = OrderedDict()

    @property
    def recording(self) -> bool:
        return self._running.locked()

    async def record(self, seconds: float) -> Profile:
        if not 0 < seconds <= MAX_SECONDS:
            raise BadUserInput(f"seconds: more than 0, at most {MAX_SECONDS}", field="seconds")
        if self._running.locked():
            raise RateLimited("a profile is being recorded; retry when it is done", retryAfter=1)
        async with self._running:
            profiler = Profiler(interval=INTERVAL_SECONDS, async_mode="disabled")
            profiler.start()
            try:
                await asyncio.sleep(seconds)
            finally:
                session = profiler.stop()
            rendered = await asyncio.to_thread(SpeedscopeRenderer().render, session)
        profile = Profile(secrets.token_hex(8), seconds, session.sample_count, rendered)
        self._kept[profile.id] = profile
        while len(self._kept) > KEEP:
            self._kept.popitem(last=False)
        return profile

    def get(self, profile_id: str) -> Profile | None:
        return self._kept.get(profile_id)
