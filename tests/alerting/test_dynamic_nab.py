"""Dynamic thresholds on real labelled data (NAB): fire in the anomaly window, quiet elsewhere.

`art_daily_jumpsup` has one labelled anomaly window (a day whose daily peak
jumps up); `art_daily_small_noise` has none. Both are replayed through
`simulateAlert`, then the live scheduler evaluates the anomaly's first moment.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.alerting.conftest import Clock, alert, create_alert, data, ingest_many, tick
from tests.conftest import GraphQLClient

NAB = Path(__file__).resolve().parents[3] / "shared" / "data" / "nab"
ANOMALY = "artificialWithAnomaly/art_daily_jumpsup.csv"
QUIET = "artificialNoAnomaly/art_daily_small_noise.csv"
DAY_MS = 86_400_000

SIMULATE = """query($rule: AlertRuleInput!, $last: String!) {
  simulateAlert(rule: $rule, last: $last) {
    evaluations
    transitions { state previousState at value }
    notifications { target status at }
  }
}"""

pytestmark = pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB data not found at {NAB}")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.strip().replace(" ", "T") + "+00:00").timestamp() * 1000)


def _series(name: str) -> list[tuple[int, float]]:
    with (NAB / "data" / name).open(newline="") as handle:
        return [(_ms(row["timestamp"]), float(row["value"])) for row in csv.DictReader(handle)]


def _window(name: str) -> tuple[int, int]:
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    [[start, end]] = labels[name]
    return _ms(start[:19]), _ms(end[:19])


def _rule(file: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"nab {file}",
        "condition": f'nab{{file="{file}"}} outside band(7d, sensitivity=high)',
        "interval": "5m",
        "channels": ["hook"],
        "groupWait": "0s",
        **extra,
    }


async def _load(gql: GraphQLClient, file: str, points: list[tuple[int, float]]) -> None:
    await ingest_many(
        gql,
        [{"name": "nab", "value": v, "timestamp": t, "labels": {"file": file}} for t, v in points],
    )


async def test_band_fires_in_the_anomaly_window_and_stays_quiet_without_one(
    app: Starlette, acme: GraphQLClient, clock: Clock
) -> None:
    anomaly, quiet = _series(ANOMALY), _series(QUIET)
    shift = (clock.now - anomaly[-1][0]) // DAY_MS * DAY_MS  # whole days: same time of day
    window = tuple(t + shift for t in _window(ANOMALY))
    await _load(acme, "jumpsup", [(t + shift, v) for t, v in anomaly])
    await _load(acme, "small_noise", [(t + shift, v) for t, v in quiet])

    result = await data(acme, SIMULATE, {"rule": _rule("jumpsup", **{"for": "10m"}), "last": "15d"})
    simulated = result["simulateAlert"]
    assert simulated["evaluations"] == 15 * 288 + 1
    fired = [_ms(t["at"][:19]) for t in simulated["transitions"] if t["state"] == "FIRING"]
    assert fired, "the band never fired on the anomaly"
    assert all(window[0] <= t <= window[1] for t in fired), "fired outside the labelled window"
    notes = simulated["notifications"]
    assert [n["status"] for n in notes][:1] == ["firing"]
    assert {n["target"] for n in notes} == {"hook"}

    quiet_result = await data(acme, SIMULATE, {"rule": _rule("small_noise"), "last": "15d"})
    states = [t["state"] for t in quiet_result["simulateAlert"]["transitions"]]
    assert "FIRING" not in states
    assert "PENDING" not in states

    # live: the scheduler, with its band cache, agrees at the first moment that fired
    first = fired[0]
    await _load(acme, "jumpsup_live", [(t + shift, v) for t, v in anomaly if t + shift <= first])
    clock.now = first
    live = await create_alert(acme, **_rule("jumpsup_live", channels=[]))
    await tick(app)
    assert (await alert(acme, live["id"]))["state"] == "FIRING"
    assert live["id"]
