"""Series with a known anomaly, and ingesting them through the REST API, for ML tests."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import httpx

STEP_MS = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


def wave(n: int, *, seed: int = 0, spike_at: int | None = None, spike: float = 40.0) -> list[float]:
    """A daily-ish wave with noise; `spike_at` gets `spike` added."""
    rng = random.Random(seed)
    values = [50 + 5 * math.sin(2 * math.pi * i / 120) + rng.gauss(0, 0.5) for i in range(n)]
    if spike_at is not None:
        values[spike_at] += spike
    return values


def points(
    name: str,
    values: list[float],
    *,
    end_ms: int,
    labels: dict[str, str] | None = None,
    step_ms: int = STEP_MS,
) -> list[dict[str, Any]]:
    """One point per step, the last at `end_ms`."""
    start = end_ms - (len(values) - 1) * step_ms
    return [
        {"name": name, "value": v, "labels": labels or {}, "timestamp": start + i * step_ms}
        for i, v in enumerate(values)
    ]


async def ingest(http: httpx.AsyncClient, key: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 20_000):
        response = await http.post(
            "/analytics/metrics",
            json=items[start : start + 20_000],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == []
