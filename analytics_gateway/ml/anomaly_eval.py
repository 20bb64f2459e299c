"""`analytics-gateway eval anomalies`: score a detector on a NAB-shaped corpus.

Every file is scored by the same detector with the same parameters, walking
forward without look-ahead (`streaming.detect_series`). The scores go
through NAB's threshold sweep (one threshold for the whole corpus) and are
normalised (null detector 0, perfect 100); event-level precision, recall and
F1 are counted at the same threshold. A seeded random detector is scored the
same way in the same run, as the floor to compare against.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics_gateway.ml.detectors import DEFAULT_DETECTOR, Sensitivity, build_detector
from analytics_gateway.ml.nab import (
    STANDARD,
    CostMatrix,
    EventCounts,
    LabelledSeries,
    NabScore,
    event_counts,
    load_profiles,
    nab_score,
)
from analytics_gateway.ml.nab_corpus import NabFile, load_corpus
from analytics_gateway.ml.streaming import StreamingPolicy, detect_series

RANDOM_SEED = 42


@dataclass(frozen=True)
class DetectorResult:
    """One detector's figures over the corpus."""

    name: str
    nab: NabScore  # at NAB's optimised threshold
    events: EventCounts  # at the same threshold
    at_medium: NabScore  # at the MEDIUM sensitivity threshold, no optimisation
    seconds: float


@dataclass(frozen=True)
class AnomalyEvalReport:
    files: int
    windows: int
    points: int
    detector: DetectorResult
    random: DetectorResult


def _profile(root: Path) -> CostMatrix:
    """NAB's standard profile from the corpus (`profiles.json` or `config/`), else built in."""
    for path in (root / "profiles.json", root / "config" / "profiles.json"):
        if path.is_file():
            return load_profiles(path).get("standard", STANDARD)
    return STANDARD


def _result(
    name: str, series: list[LabelledSeries], cost: CostMatrix, seconds: float
) -> DetectorResult:
    best = nab_score(series, cost)
    return DetectorResult(
        name=name,
        nab=best,
        events=event_counts(series, best.threshold),
        at_medium=nab_score(series, cost, threshold=Sensitivity.MEDIUM.threshold),
        seconds=seconds,
    )


def _write_alerts(
    path: Path, files: list[NabFile], scores: list[np.ndarray], threshold: float
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp", "score"])
        for item, score in zip(files, scores, strict=True):
            for i in np.flatnonzero(score >= threshold):
                stamp = np.datetime64(int(item.timestamps_ms[i]), "ms").astype("datetime64[s]")
                writer.writerow([item.name, str(stamp).replace("T", " "), f"{score[i]:.17g}"])


def run_anomaly_eval(
    root: Path,
    detector: str = DEFAULT_DETECTOR,
    out: Path | None = None,
    policy: StreamingPolicy | None = None,
    seed: int = RANDOM_SEED,
) -> AnomalyEvalReport:
    """Run `detector` over every file of the corpus at `root` and score it."""
    build_detector(detector)  # refuse a bad name before any work
    files = load_corpus(root)
    cost = _profile(root)
    started = time.perf_counter()
    scores = [
        detect_series(
            lambda: build_detector(detector), f.timestamps_ms, f.values, policy
        ).alert_scores
        for f in files
    ]
    took = time.perf_counter() - started
    ours = _result(
        detector,
        [LabelledSeries(f.name, s, f.windows) for f, s in zip(files, scores, strict=True)],
        cost,
        took,
    )
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    noise = [LabelledSeries(f.name, rng.random(f.values.size), f.windows) for f in files]
    rand = _result(f"random (seed {seed})", noise, cost, time.perf_counter() - started)
    if out is not None:
        _write_alerts(out, files, scores, ours.nab.threshold)
    return AnomalyEvalReport(
        files=len(files),
        windows=sum(len(f.windows) for f in files),
        points=sum(f.values.size for f in files),
        detector=ours,
        random=rand,
    )


def _line(result: DetectorResult) -> str:
    ev = result.events
    return (
        f"{result.name}: NAB standard {result.nab.normalised:.2f} "
        f"(threshold {result.nab.threshold:.6f}, raw {result.nab.raw:.3f}); "
        f"events precision {ev.precision:.3f} recall {ev.recall:.3f} F1 {ev.f1:.3f} "
        f"(found {ev.tp}, false alerts {ev.fp}, missed {ev.fn}); "
        f"at MEDIUM sensitivity NAB {result.at_medium.normalised:.2f}; {result.seconds:.1f} s"
    )


def format_report(report: AnomalyEvalReport) -> str:
    """The figures as the command prints them."""
    return "\n".join(
        [
            f"corpus: {report.files} files, {report.windows} anomaly windows, "
            f"{report.points} points",
            _line(report.detector),
            _line(report.random),
        ]
    )
