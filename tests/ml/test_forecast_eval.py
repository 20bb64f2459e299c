"""`analytics-gateway eval forecast`: hold-out scores on real and synthetic series."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from analytics_gateway.cli import main
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.forecast_eval import evaluate, holdout_points, read_csv

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "forecast"


@pytest.mark.parametrize(
    ("name", "points", "seasons"),
    [
        ("example_retail_sales.csv", 293, (12,)),
        ("example_wp_log_peyton_manning.csv", 2905, (7, 365)),
    ],
)
def test_real_series_beat_seasonal_naive_and_cover_the_hold_out(
    name: str, points: int, seasons: tuple[int, ...]
) -> None:
    if not (DATA / name).is_file():
        pytest.skip(f"forecast data not found at {DATA} (the project's ../shared/data)")
    timestamps, values = read_csv(DATA / name)
    assert len(values) == points
    score = evaluate(timestamps, values, holdout="10%")
    assert score.held_out == round(points / 10)
    assert score.forecast.season_lengths == seasons
    assert score.mase is not None
    assert score.baseline_mase is not None
    assert score.mase < score.baseline_mase
    assert 0.88 <= score.coverage <= 0.99
    assert score.smape < score.baseline_smape


def _write_csv(path: Path, days: int) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(days)
    y = 20 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.5, days)
    lines = ["timestamp,value"]
    lines += [f"2024-01-01T00:00:00Z,{y[0]}"]
    lines += [f"{1_704_067_200_000 + int(i) * 86_400_000},{y[i]}" for i in t[1:]]
    path.write_text("\n".join(lines) + "\n")


def test_cli_eval_forecast_prints_the_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "daily.csv"
    _write_csv(csv_path, 200)
    code = main(["eval", "forecast", "--csv", str(csv_path), "--horizon", "14", "--model", "ets"])
    out = capsys.readouterr().out
    assert code == 0
    assert "held out: last 14 points" in out
    assert "seasons: 7" in out
    mase_line = next(line for line in out.splitlines() if line.startswith("hold-out MASE"))
    model_mase = float(mase_line.split("model ")[1].split(",")[0])
    naive_mase = float(mase_line.split("seasonal naive ")[1].split(" ")[0])
    assert model_mase < naive_mase
    assert "95% interval coverage" in out


def test_cli_eval_forecast_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "daily.csv"
    _write_csv(csv_path, 60)
    assert main(["eval", "forecast", "--csv", str(csv_path), "--horizon", "0"]) == 2
    assert "horizon" in capsys.readouterr().err
    args = ["eval", "forecast", "--csv", str(csv_path), "--horizon", "5", "--model", "x"]
    assert main(args) == 2
    assert "model" in capsys.readouterr().err
    assert main(["eval", "forecast", "--csv", str(tmp_path / "none.csv"), "--horizon", "5"]) == 2
    assert "csv" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "expected"), [("10%", 29), ("0.1", 29), ("12", 12), ("2.5%", 7)])
def test_holdout_as_points_or_share(text: str, expected: int) -> None:
    assert holdout_points(text, 293) == expected


@pytest.mark.parametrize("text", ["0", "293", "100%", "1.5", "ten", "-5%"])
def test_bad_holdout_names_the_horizon(text: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        holdout_points(text, 293)
    assert caught.value.extensions["parameter"] == "horizon"


def test_csv_times_in_seconds_milliseconds_or_iso_read_the_same(tmp_path: Path) -> None:
    hours = range(5)
    forms = {
        "seconds": [str(1_700_000_000 + h * 3600) for h in hours],
        "milliseconds": [str((1_700_000_000 + h * 3600) * 1000) for h in hours],
        "iso": [
            datetime.fromtimestamp(1_700_000_000 + h * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for h in hours
        ],
    }
    read = {}
    for name, times in forms.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("time,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)))
        read[name] = read_csv(path)
    assert read["seconds"] == read["milliseconds"]
    assert read["seconds"][0][1] - read["seconds"][0][0] == 3_600_000
    assert read["iso"] == read["seconds"]
