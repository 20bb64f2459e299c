"""A band alert on a noisy series fires on a real shift, not on the noise.

The series is shaped like the demo's `cpu_usage`: a daily rhythm with Gaussian
noise of 4 points per minute, a week of history. A rule with the band at high
sensitivity, replayed over the last day, must stay quiet on the two normal
hosts and fire once on the host whose usage jumps by 25 points for 20 minutes.
"""

from __future__ import annotations

import math
import random

from tests.alerting.conftest import Clock, data, ingest_many
from tests.conftest import GraphQLClient

MINUTE_MS = 60_000
DAY_MS = 86_400_000
SIMULATE = """query($rule: AlertRuleInput!) {
  simulateAlert(rule: $rule, last: "24h") {
    evaluations
    transitions { state labels at }
  }
}"""


def _cpu(ts_ms: int, phase_hours: float, rng: random.Random) -> float:
    hours = (ts_ms / 3_600_000 + phase_hours) % 24
    daily = 0.5 + 0.5 * math.sin((hours - 14) / 24 * 2 * math.pi)
    return round(min(100.0, max(0.0, 20 + 55 * daily + rng.gauss(0, 4))), 1)


async def test_the_band_ignores_noise_and_fires_on_a_shift(
    acme: GraphQLClient, clock: Clock
) -> None:
    rng = random.Random(7)
    end = clock.now // MINUTE_MS * MINUTE_MS
    shift_start = end - 6 * 3_600_000  # six hours ago, for 20 minutes
    points = []
    for ts in range(end - 8 * DAY_MS, end + 1, MINUTE_MS):
        for phase, host in enumerate(("web-1", "web-2", "db-1")):
            value = _cpu(ts, phase, rng)
            if host == "db-1" and shift_start <= ts < shift_start + 20 * MINUTE_MS:
                value = min(100.0, value + 25)
            points.append(
                {"name": "cpu_usage", "value": value, "timestamp": ts, "labels": {"host": host}}
            )
    await ingest_many(acme, points)

    rule = {
        "name": "cpu band",
        "condition": "cpu_usage outside band(7d, sensitivity=high)",
        "interval": "1m",
    }
    result = (await data(acme, SIMULATE, {"rule": rule}))["simulateAlert"]
    assert result["evaluations"] == 24 * 60 + 1
    fired = [t for t in result["transitions"] if t["state"] == "FIRING"]
    assert {t["labels"]["host"] for t in fired} == {"db-1"}, fired
    assert len(fired) == 1, fired
