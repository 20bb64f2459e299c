"""Benchmark 5: anomaly detection over 1,000,000 points through the GraphQL API,
against the same PyOD detector called directly on the same array.

A gateway process (`python -m analytics_gateway serve`, its point and batch
limits raised) is loaded with one series of `points` points, one per second,
by line protocol in big batches. A model is trained through the API on the
series' first `train` points (the detector fits the last 10,000 of them).
Then, alternating, `repeats` times:

- gateway: `detectAnomalies(metrics: [...], window: ..., detector: ...)` over
  HTTP: authentication, the store read of all points, features, the PyOD
  scores, calibration, the expected band, GraphQL and JSON;
- baseline: in this process, the PyOD estimator with the same
  hyper-parameters, fitted on the same 10,000 values, `decision_function`
  on the whole array (a column of raw values).

The target is on the ratio of the medians. A second detector (HBOS, whose
PyOD scoring is cheap, so the gateway's own work shows) is measured the same
way for information.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from bench.common import (
    Comparison,
    ServerProcess,
    clean_env,
    cpu_meter,
    free_port,
    make_key,
    python_argv,
    run_async,
    say,
    section,
)

METRIC = "bench_ml"
MAX_TRAIN = 10_000  # the detectors' default `max_train`
DETECT = """query($detector: String!, $window: String!) {
  detectAnomalies(metrics: ["METRIC"], window: $window, detector: $detector) {
    modelId detector points count anomalies(limit: 100) { timestamp value score }
  }
}""".replace("METRIC", METRIC)
TRAIN = """mutation($input: TrainModelInput!) {
  trainModel(input: $input) { id method trainingPoints evaluation { fitSeconds } }
}"""


@dataclass(frozen=True)
class MlOptions:
    points: int = 1_000_000
    batch: int = 50_000
    train: int = 20_000
    repeats: int = 3
    detector: str = "iforest"
    info_detector: str = "hbos"


def series(points: int, end_ms: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """One point per second: an hourly cycle, noise, and a spike every 100,000 points."""
    rng = np.random.default_rng(seed)
    ts = end_ms - (points - 1 - np.arange(points, dtype=np.int64)) * 1000
    i = np.arange(points)
    values = 50 + 10 * np.sin(2 * np.pi * i / 3600) + rng.normal(0, 1, points)
    values[50_000::100_000] += 25
    return ts, np.round(values, 4)


def _baseline(detector: str) -> Any:
    """The PyOD estimator with the gateway's default hyper-parameters for `detector`."""
    if detector == "iforest":
        from pyod.models.iforest import IForest  # type: ignore[import-untyped]

        return IForest(n_estimators=100, max_samples=256, random_state=0)
    if detector == "hbos":
        from pyod.models.hbos import HBOS  # type: ignore[import-untyped]

        return HBOS(n_bins=10, alpha=0.1, tol=0.5)
    if detector == "ecod":
        from pyod.models.ecod import ECOD  # type: ignore[import-untyped]

        return ECOD()
    if detector == "knn":
        from pyod.models.knn import KNN  # type: ignore[import-untyped]

        return KNN(n_neighbors=5)
    raise ValueError(f"no baseline for detector {detector!r}")


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + (
        f".{epoch_ms % 1000:03d}Z"
    )


def _graphql(http: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/graphql", content=orjson.dumps({"query": query, "variables": variables}))
    body: dict[str, Any] = orjson.loads(response.content)
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"gateway error {response.status_code}: {response.text[:500]}")
    data: dict[str, Any] = body["data"]
    return data


def _ingest(http: httpx.Client, ts: np.ndarray, vs: np.ndarray, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, ts.size, batch):
        chunk = zip(
            ts[start : start + batch].tolist(), vs[start : start + batch].tolist(), strict=True
        )
        lines = "\n".join(f"{METRIC} value={v!r} {t}" for t, v in chunk)
        response = http.post("/write", params={"precision": "ms"}, content=lines.encode())
        if response.status_code != 204:
            raise RuntimeError(f"ingest refused: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


@dataclass
class Timings:
    gateway: list[float]
    raw: list[float]  # PyOD on the raw values column
    features: list[float]  # PyOD on the gateway's own feature matrix
    cpu: list[float]
    report: dict[str, Any]


def _features(ts: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """The gateway's windowed features of the series (its default `FeatureSpec`)."""
    from analytics_gateway.ml.features import FeatureSpec

    out: np.ndarray = FeatureSpec().resolve(ts).build(ts, vs)
    return out


def _measure(
    http: httpx.Client,
    server: ServerProcess,
    options: MlOptions,
    detector: str,
    ts: np.ndarray,
    vs: np.ndarray,
    window: str,
    model_id: str,
) -> Timings:
    column = vs.reshape(-1, 1)
    matrix = _features(ts, vs)
    on_raw = _baseline(detector).fit(column[: options.train][-MAX_TRAIN:])
    on_features = _baseline(detector).fit(matrix[: options.train][-MAX_TRAIN:])
    out = Timings([], [], [], [], {})
    for _ in range(options.repeats):
        with cpu_meter(server) as cpu:
            started = time.perf_counter()
            data = _graphql(http, DETECT, {"detector": detector, "window": window})
            out.gateway.append(time.perf_counter() - started)
        out.cpu.append(cpu.seconds)
        [out.report] = data["detectAnomalies"]
        if out.report["points"] != vs.size or out.report["modelId"] != model_id:
            raise RuntimeError(f"unexpected detection report: {str(out.report)[:300]}")
        for estimator, X, times in ((on_raw, column, out.raw), (on_features, matrix, out.features)):
            started = time.perf_counter()
            scores = estimator.decision_function(X)
            times.append(time.perf_counter() - started)
            if scores.shape != (vs.size,):
                raise RuntimeError("the baseline scored the wrong number of points")
    return out


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) + " s"


def run(options: MlOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(
        f"5. anomaly detection: {options.points:,} points through GraphQL vs PyOD directly "
        f"({options.detector}; {options.info_detector} for information)"
    )
    data_dir = workdir / "ml"
    key = run_async(make_key(data_dir))
    port = free_port()
    env = clean_env(
        {
            "ANALYTICS_MAX_POINTS_PER_REQUEST": str(options.points * 2),
            "ANALYTICS_MAX_BATCH_SIZE": str(options.batch),
            "ANALYTICS_MAX_BODY_BYTES": str(64 * 1024 * 1024),
            "ANALYTICS_BACKEND_TIMEOUT_SECONDS": "60",
            "ANALYTICS_REQUEST_TIMEOUT_SECONDS": "300",
        }
    )
    profile = profile_dir / "gateway_ml.prof" if profile_dir else None
    argv = python_argv(
        "analytics_gateway", ["serve", "--port", str(port), "--data-dir", str(data_dir)], profile
    )
    server = ServerProcess(
        "gateway",
        argv,
        log=workdir / "logs" / "gateway_ml.log",
        ready_urls=[f"http://127.0.0.1:{port}/readyz"],
        env=env,
    )
    end_ms = int(time.time() * 1000) - 1000
    ts, vs = series(options.points, end_ms)
    window = f"{math.ceil((end_ms - int(ts[0])) / 3_600_000) + 1}h"
    train_to = int(ts[options.train]) if options.train < ts.size else end_ms + 1
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    rows: list[Comparison] = []
    with (
        server,
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600, trust_env=False
        ) as http,
    ):
        took = _ingest(http, ts, vs, options.batch)
        say(f"ingested {options.points:,} points by line protocol in {took:.1f} s")
        for detector, target in ((options.detector, 1.5), (options.info_detector, None)):
            train = {"metric": METRIC, "detector": detector, "from": _iso(int(ts[0])),
                     "to": _iso(train_to)}  # fmt: skip
            started = time.perf_counter()
            trained = _graphql(http, TRAIN, {"input": train})["trainModel"]
            train_s = time.perf_counter() - started
            column = vs[: options.train][-MAX_TRAIN:].reshape(-1, 1)
            _baseline(detector).fit(column)  # imports, and compiles numba code, once
            started = time.perf_counter()
            _baseline(detector).fit(column)
            fit_s = time.perf_counter() - started
            say(
                f"{detector}: trainModel {train_s:.2f} s ({trained['trainingPoints']:,} points; "
                f"final fit {trained['evaluation']['fitSeconds']:.2f} s, after a hold-out fit); "
                f"PyOD fit alone {fit_s:.2f} s"
            )
            t = _measure(http, server, options, detector, ts, vs, window, trained["id"])
            say(
                f"{detector}: gateway {_seconds(t.gateway)} (server CPU "
                f"{statistics.median(t.cpu):.2f} s); PyOD on the raw column {_seconds(t.raw)}, "
                f"on the gateway's features {_seconds(t.features)}; "
                f"{t.report['count']:,} anomalous points reported"
            )
            gateway = statistics.median(t.gateway)
            label = f"ml detection {options.points:,} pts ({detector})"
            rows.append(
                Comparison(
                    label, "s", gateway, statistics.median(t.raw), higher_is_better=False,
                    target=target,
                    notes=[f"{detector}: server CPU {statistics.median(t.cpu):.2f} s per "
                           f"request; trainModel {train_s:.2f} s vs PyOD fit {fit_s:.2f} s"],
                )
            )  # fmt: skip
            rows.append(
                Comparison(
                    f"{label} vs PyOD on features", "s", gateway, statistics.median(t.features),
                    higher_is_better=False, target=None,
                )
            )  # fmt: skip
    return rows
