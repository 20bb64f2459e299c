"""Which reads are counted and read in one store call (`query_cost.is_light`)."""

from __future__ import annotations

from analytics_gateway.domain import Aggregation, MetricQuery
from analytics_gateway.query_cost import (
    LIGHT_READ_POINTS,
    LIGHT_READ_SERIES,
    estimate,
    is_light,
)

MINUTE = 60_000


def stepped(minutes: int) -> MetricQuery:
    """One point per series per minute, over `minutes`."""
    return MetricQuery("t", "m", (), 0, minutes * MINUTE, MINUTE, Aggregation.AVG)


def whole_range() -> MetricQuery:
    """One point per series, however long the range (an aggregate without a step)."""
    return MetricQuery("t", "m", (), 0, 30 * 24 * 60 * MINUTE, None, Aggregation.AVG)


def test_a_read_is_light_under_the_points_and_within_the_series() -> None:
    hour = stepped(60)
    assert estimate([hour], [166]) == 9_960 < LIGHT_READ_POINTS
    assert is_light([hour], [166])
    assert estimate([hour], [167]) >= LIGHT_READ_POINTS
    assert not is_light([hour], [167])
    assert is_light([hour, hour], [80, 80])  # the whole batch counts
    assert not is_light([hour, hour], [100, 100])


def test_a_cheap_read_over_many_series_is_counted_first() -> None:
    """An aggregate over a month costs a point per series, but reads every raw point of
    each, and a read over many series is granted more time: it is not light."""
    month = whole_range()
    assert estimate([month], [LIGHT_READ_SERIES + 1]) < LIGHT_READ_POINTS
    assert not is_light([month], [LIGHT_READ_SERIES + 1])
    assert is_light([month], [LIGHT_READ_SERIES])
