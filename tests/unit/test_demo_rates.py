"""Live demo points come at the history's rates, so charts show no cliff at 'now'."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from analytics_gateway.demo import (
    COUNTRIES,
    COUNTS,
    HOUR_MS,
    PLAYS_PER_HOUR,
    STEP_MS,
    live_plays,
    live_sample,
    play_events,
)

T = 1_700_000_000_000 // STEP_MS * STEP_MS  # the start of a minute


def test_counts_come_once_a_minute_and_gauges_every_second() -> None:
    rng = random.Random(3)
    seen: Counter[str] = Counter()
    previous = None
    for second in range(180):  # three minutes, a point a second
        ts = T + 500 + second * 1000
        seen.update(name for name, _, _ in live_sample(ts, previous, rng))
        previous = ts
    assert seen["revenue"] == 3
    assert seen["song_plays"] == 3 * len(COUNTRIES)
    assert seen["active_users"] == 180
    assert seen["cpu_usage"] == 180 * 3  # three hosts
    assert {"song_plays", "revenue"} == COUNTS


def test_live_plays_come_at_the_history_hourly_rate() -> None:
    rng = random.Random(7)
    hours = 5
    total = sum(live_plays(1.0, rng) for _ in range(3600 * hours))
    assert total / hours == pytest.approx(PLAYS_PER_HOUR, rel=0.1)


def test_history_plays_fill_their_hour() -> None:
    """Not bunched at one instant an hour: any stretch of the history has its share."""
    rng = random.Random(11)
    end = T + HOUR_MS - 1
    stamps = sorted(event.timestamp_ms for event in play_events(end, 2000, rng, HOUR_MS))
    assert stamps[0] >= T
    assert stamps[-1] <= end
    quarters = Counter((ts - T) * 4 // HOUR_MS for ts in stamps)
    assert sorted(quarters) == [0, 1, 2, 3]
    assert min(quarters.values()) > 400
