"""Report insights: drivers and their contributions, sentences from the figures only."""

from __future__ import annotations

import random

import pytest

from analytics_gateway.domain import Aggregation, Series
from analytics_gateway.reports import insights

HOUR = 3_600_000
PREVIOUS, CURRENT = (0, 24 * HOUR), (24 * HOUR, 48 * HOUR)


def hourly(labels: dict[str, str], values: list[float]) -> Series:
    return Series("plays", labels, [i * HOUR for i in range(len(values))], values)


def test_contributions_are_each_values_share_of_the_total_change() -> None:
    rng = random.Random(3)
    by_country = {
        c: [float(rng.randint(1, 9)) for _ in range(24)] + [float(rng.randint(1, 9) * m)
                                                          for _ in range(24)]
        for c, m in (("DE", 3), ("FR", 1), ("SE", 2))
    }  # fmt: skip
    groups = {"country": [hourly({"country": c}, v) for c, v in by_country.items()]}
    total_values = [sum(col) for col in zip(*by_country.values(), strict=True)]
    total = hourly({}, total_values)
    mover = insights.mover("Plays", total, groups, Aggregation.SUM, CURRENT, PREVIOUS, "day")
    assert mover is not None
    change = sum(total_values[24:]) - sum(total_values[:24])
    expected = {c: (sum(v[24:]) - sum(v[:24])) / change for c, v in by_country.items()}
    named = {d["value"]: d["contribution"] for d in mover.figures["drivers"]}
    for country, share in named.items():
        assert share == pytest.approx(expected[country])
    biggest = max(expected, key=lambda c: expected[c])
    assert mover.figures["drivers"][0]["value"] == biggest
    assert f"country={biggest} explains {expected[biggest] * 100:.1f}%" in mover.sentence
    assert mover.figures["change"] == pytest.approx(change)
    # every value moving with the total by at least 5% is named (at most three)
    assert set(named) == {c for c, share in expected.items() if share >= 0.05}


def test_no_change_names_no_driver_and_says_so() -> None:
    flat = hourly({}, [2.0] * 48)
    groups = {"country": [hourly({"country": "DE"}, [2.0] * 48)]}
    mover = insights.mover("Plays", flat, groups, Aggregation.SUM, CURRENT, PREVIOUS, "day")
    assert mover is not None
    assert mover.figures["drivers"] == []
    assert mover.sentence == "Plays held at 48 against the previous day."


def test_a_period_without_data_gives_no_mover() -> None:
    only_now = Series("plays", {}, [30 * HOUR], [1.0])
    assert insights.mover("Plays", only_now, {}, Aggregation.SUM, CURRENT, PREVIOUS, "day") is None


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        (Aggregation.SUM, 10.0),
        (Aggregation.COUNT, 10.0),
        (Aggregation.MIN, 1.0),
        (Aggregation.MAX, 4.0),
        (Aggregation.LAST, 4.0),
        (Aggregation.AVG, 2.5),
        (Aggregation.P95, 2.5),
    ],
)
def test_period_value(aggregation: Aggregation, expected: float) -> None:
    assert insights.period_value([1.0, 2.0, 3.0, 4.0], aggregation) == expected
    assert insights.period_value([], aggregation) is None


def test_sentences_carry_the_figures() -> None:
    kpi = insights.kpi_off_target("Revenue", 812.5, 1000.0, True, "currency")
    assert kpi.sentence == (
        "KPI Revenue is off target: 812.5 currency against a target of at least 1,000 currency."
    )
    assert kpi.figures["gap"] == -187.5
    low = insights.kpi_off_target("Latency", 420.0, 300.0, False, None)
    assert "at most 300." in low.sentence
    [spike] = insights.anomalies(
        "Latency", [insights.Flagged(7 * HOUR, 400.0, 0.999)], {7 * HOUR: "then"}
    )
    assert spike.sentence == "Latency was anomalous at then: 400 (anomaly score 1.00)."
