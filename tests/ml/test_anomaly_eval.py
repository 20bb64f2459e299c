"""`eval anomalies` on a tiny NAB-shaped corpus built here, and on one real NAB file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from analytics_gateway.cli import main
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.anomaly_eval import format_report, run_anomaly_eval

SHARED_NAB = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nab"
START = np.datetime64("2014-04-01T00:00:00")
STEP = np.timedelta64(5, "m")


def stamp(i: int) -> str:
    return str(START + i * STEP).replace("T", " ")


def write_file(root: Path, name: str, values: np.ndarray) -> None:
    path = root / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for i, v in enumerate(values):
            writer.writerow([stamp(i), f"{v:.6f}"])


def write_labels(root: Path, labels: dict[str, list[list[str]]]) -> None:
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


@pytest.fixture
def tiny_nab(tmp_path: Path) -> Path:
    """Three 1,200-point files: two with a level shift inside a window, one quiet."""
    rng = np.random.default_rng(11)
    n = 1200
    labels: dict[str, list[list[str]]] = {}
    for name, shift_at in (("synthetic/shift_a.csv", 800), ("other/shift_b.csv", 950)):
        values = 5 + np.sin(np.arange(n) * 2 * np.pi / 96) + rng.normal(0, 0.1, n)
        values[shift_at:] += 6.0
        write_file(tmp_path, name, values)
        labels[name] = [[stamp(shift_at - 30) + ".000000", stamp(shift_at + 30) + ".000000"]]
    write_file(tmp_path, "synthetic/quiet.csv", 5 + rng.normal(0, 0.1, n))
    labels["synthetic/quiet.csv"] = []
    write_labels(tmp_path, labels)
    return tmp_path


def test_scores_a_tiny_corpus_and_beats_random(tiny_nab: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.csv"
    report = run_anomaly_eval(tiny_nab, out=out)
    assert (report.files, report.windows, report.points) == (3, 2, 3600)
    found = report.detector
    assert found.events.tp == 2
    assert found.events.fn == 0
    assert found.nab.normalised > 80.0
    assert found.nab.normalised > report.random.nab.normalised
    assert 0.0 <= report.random.events.f1 <= found.events.f1
    text = format_report(report)
    assert "NAB standard" in text
    assert "F1" in text
    assert "random (seed 42)" in text

    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "every alert raised is written"
    assert {r["file"] for r in rows} <= {
        "synthetic/shift_a.csv",
        "other/shift_b.csv",
        "synthetic/quiet.csv",
    }
    assert all(float(r["score"]) >= found.nab.threshold for r in rows)
    shift_rows = [r for r in rows if r["file"] == "synthetic/shift_a.csv"]
    assert any(stamp(800) <= r["timestamp"] <= stamp(830) for r in shift_rows)


def test_random_baseline_is_reproducible(tiny_nab: Path) -> None:
    first = run_anomaly_eval(tiny_nab, detector="hbos")
    second = run_anomaly_eval(tiny_nab, detector="hbos")
    assert first.random.nab == second.random.nab
    assert first.detector.nab == second.detector.nab


def test_bad_detector_and_bad_directory_are_user_errors(tiny_nab: Path, tmp_path: Path) -> None:
    with pytest.raises(BadUserInput) as exc:
        run_anomaly_eval(tiny_nab, detector="nope")
    assert exc.value.as_extensions()["field"] == "detector"
    with pytest.raises(BadUserInput) as exc:
        run_anomaly_eval(tmp_path / "missing")
    assert exc.value.as_extensions()["field"] == "nab"


def test_cli_prints_the_figures_and_writes_alerts(
    tiny_nab: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-alerts.csv"
    code = main(
        ["eval", "anomalies", "--nab", str(tiny_nab), "--out", str(out), "--detector", "knn"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "knn: NAB standard" in printed
    assert "random (seed 42): NAB standard" in printed
    assert out.read_text().startswith("file,timestamp,score")
    assert main(["eval", "anomalies", "--nab", str(tiny_nab), "--detector", "nope"]) == 2
    assert "detector" in capsys.readouterr().err


def test_one_real_nab_file(tmp_path: Path) -> None:
    name = "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv"
    source = SHARED_NAB / "data" / name
    if not source.is_file():
        pytest.skip(f"NAB data not found at {SHARED_NAB}")
    (tmp_path / "data" / name).parent.mkdir(parents=True)
    shutil.copy(source, tmp_path / "data" / name)
    labels = json.loads((SHARED_NAB / "labels" / "combined_windows.json").read_text())
    write_labels(tmp_path, {name: labels[name]})
    shutil.copy(SHARED_NAB / "profiles.json", tmp_path / "profiles.json")
    report = run_anomaly_eval(tmp_path)
    assert report.windows == 2
    assert report.points == 4032
    assert report.detector.events.tp >= 1
    assert report.detector.nab.normalised > report.random.nab.normalised
