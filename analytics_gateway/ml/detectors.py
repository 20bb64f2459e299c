"""Anomaly detectors chosen by name, all with one contract.

    detector = build_detector("knn", n_neighbors=10)
    detector.fit(timestamps_ms, values)           # learn what normal looks like
    scores = detector.score(timestamps_ms, values)  # one score in [0, 1] per point

A score at time t depends on the fitted model and the points up to t only:
features are trailing windows, and no PyOD call ranks a point against the
points scored with it. When the scored points continue the training series,
the model supplies the training tail as window context.

Names: "ecod", "copod", "iforest", "hbos", "knn" (PyOD on windowed features),
"timeseries" (PyOD on the raw subsequence ending at each point: PyOD's
`TimeSeriesOD` windowing, with each window's score given to its last point
instead of spread over points it has not seen yet) and "ensemble" (the mean
surprise of several of the others; the default).
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from collections.abc import Container, Sequence
from enum import Enum
from typing import Any

import numpy as np

from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.calibration import FloatArray, to_probability
from analytics_gateway.ml.features import (
    FeatureSpec,
    IntArray,
    ResolvedSpec,
    lag_windows,
    validate_series,
)
from analytics_gateway.ml.params import Param, resolve_params
from analytics_gateway.ml.pyod_models import MODEL_PARAMS, TabularModel

DEFAULT_DETECTOR = "ensemble"
DEFAULT_MEMBERS = ("knn", "hbos")
_MAGIC = b"AGW-ANOMALY-MODEL/1\n"


class Sensitivity(Enum):
    """How readily a score becomes an alert: a threshold on the calibrated score."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def threshold(self) -> float:
        return _THRESHOLDS[self]


_THRESHOLDS = {Sensitivity.LOW: 0.999, Sensitivity.MEDIUM: 0.997, Sensitivity.HIGH: 0.99}


class NotFittedError(RuntimeError):
    """A detector was asked to score before `fit`."""


class AnomalyDetector(ABC):
    """Fit on a series, then score points; higher is more anomalous."""

    def __init__(self, name: str, max_train: int) -> None:
        self.name = name
        self.max_train = max_train
        self.context_: tuple[IntArray, FloatArray] | None = None

    @property
    @abstractmethod
    def context(self) -> int:
        """Points of history one score depends on (besides the point itself)."""

    @abstractmethod
    def _fit(self, timestamps_ms: IntArray, values: FloatArray) -> None: ...

    @abstractmethod
    def _surprise(self, timestamps_ms: IntArray, values: FloatArray) -> FloatArray: ...

    def fit(self, timestamps_ms: object, values: object) -> AnomalyDetector:
        """Learn from a series (its most recent `max_train` points)."""
        ts, vs = validate_series(timestamps_ms, values)
        minimum = max(self.min_points, 2)
        if ts.size < minimum:
            raise BadUserInput(
                f"values: need at least {minimum} points to fit, got {ts.size}", field="values"
            )
        keep = self.max_train + self.context
        ts, vs = ts[-keep:], vs[-keep:]
        self._fit(ts, vs)
        tail = ts.size - self.context
        self.context_ = (ts[tail:].copy(), vs[tail:].copy())
        return self

    @property
    def min_points(self) -> int:
        return 20

    @property
    def fitted(self) -> bool:
        return self.context_ is not None

    def surprise(self, timestamps_ms: object, values: object) -> FloatArray:
        """Scores as surprise, -log10(1 - score): unbounded, additive across models."""
        if self.context_ is None:
            raise NotFittedError(f"detector {self.name!r} must be fitted before scoring")
        ts, vs = validate_series(timestamps_ms, values)
        if ts.size == 0:
            return np.empty(0)
        ctx_ts, ctx_vs = self.context_
        if ctx_ts.size and ts[0] > ctx_ts[-1]:
            # The points continue the training series: its tail fills the windows.
            out = self._surprise(np.concatenate((ctx_ts, ts)), np.concatenate((ctx_vs, vs)))
            return out[ctx_ts.size :]
        return self._surprise(ts, vs)

    def score(self, timestamps_ms: object, values: object) -> FloatArray:
        """One calibrated score in [0, 1] per point."""
        return to_probability(self.surprise(timestamps_ms, values))

    def to_bytes(self) -> bytes:
        """Serialise for the model registry; read back only with `load_detector`."""
        return _MAGIC + pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def load_detector(data: bytes) -> AnomalyDetector:
    """Restore a detector written by `to_bytes`.

    Only for bytes this service wrote itself (the model registry's files):
    unpickling runs code, so never call it on anything a client sent.
    """
    if not data.startswith(_MAGIC):
        raise ValueError("not a serialised anomaly detector")
    detector = pickle.loads(data[len(_MAGIC) :])  # noqa: S301 - our own registry files only
    if not isinstance(detector, AnomalyDetector):
        raise ValueError("not a serialised anomaly detector")
    return detector


class WindowedDetector(AnomalyDetector):
    """One PyOD model over windowed features (value, change, rolling statistics)."""

    def __init__(self, model: str, model_params: dict[str, Any], spec: FeatureSpec, max_train: int):
        super().__init__(model, max_train)
        self.model = model
        self.model_params = model_params
        self.spec = spec
        self.resolved_: ResolvedSpec | None = None
        self.model_: TabularModel | None = None

    @property
    def context(self) -> int:
        return self.spec.context

    def _fit(self, timestamps_ms: IntArray, values: FloatArray) -> None:
        self.resolved_ = self.spec.resolve(timestamps_ms)
        X = self.resolved_.build(timestamps_ms, values)
        self.model_ = TabularModel.fit(self.model, self.model_params, X[-self.max_train :])

    def _surprise(self, timestamps_ms: IntArray, values: FloatArray) -> FloatArray:
        assert self.resolved_ is not None
        assert self.model_ is not None
        return self.model_.surprise(self.resolved_.build(timestamps_ms, values))


class SubsequenceDetector(AnomalyDetector):
    """A PyOD model over the last `window_size` values ending at each point."""

    def __init__(self, window_size: int, model: str, model_params: dict[str, Any], max_train: int):
        super().__init__("timeseries", max_train)
        self.window_size = window_size
        self.model = model
        self.model_params = model_params
        self.model_: TabularModel | None = None

    @property
    def context(self) -> int:
        return self.window_size - 1

    @property
    def min_points(self) -> int:
        return max(20, 2 * self.window_size)

    def _fit(self, timestamps_ms: IntArray, values: FloatArray) -> None:
        X = lag_windows(values, self.window_size)[self.window_size - 1 :]
        self.model_ = TabularModel.fit(self.model, self.model_params, X[-self.max_train :])

    def _surprise(self, timestamps_ms: IntArray, values: FloatArray) -> FloatArray:
        assert self.model_ is not None
        return self.model_.surprise(lag_windows(values, self.window_size))


class EnsembleDetector(AnomalyDetector):
    """Several detectors on the same series; the score is their mean surprise."""

    def __init__(self, members: Sequence[AnomalyDetector], max_train: int):
        super().__init__("ensemble", max_train)
        self.members = list(members)

    @property
    def context(self) -> int:
        return max(m.context for m in self.members)

    @property
    def min_points(self) -> int:
        return max(m.min_points for m in self.members)

    def _fit(self, timestamps_ms: IntArray, values: FloatArray) -> None:
        for member in self.members:
            member.fit(timestamps_ms, values)

    def _surprise(self, timestamps_ms: IntArray, values: FloatArray) -> FloatArray:
        scores = [m._surprise(timestamps_ms, values) for m in self.members]
        out: FloatArray = np.mean(scores, axis=0)
        return out


_COMMON: dict[str, Param] = {"max_train": Param(int, 10_000, low=20, high=1_000_000)}
_FEATURES: dict[str, Param] = {
    "short_window": Param(int, FeatureSpec.short_window, low=1, high=10_000),
    "spread_window": Param(int, FeatureSpec.spread_window, low=1, high=10_000),
    "long_window": Param(int, FeatureSpec.long_window, low=1, high=10_000),
    "calendar": Param(bool, FeatureSpec.calendar, optional=True),
}
_SUBSEQUENCE: dict[str, Param] = {
    "window_size": Param(int, 16, low=2, high=512),
    "model": Param(str, "knn", choices=tuple(MODEL_PARAMS)),
}
DETECTORS = (*MODEL_PARAMS, "timeseries", "ensemble")


def _spec(params: dict[str, Any]) -> FeatureSpec:
    return FeatureSpec(
        params["short_window"], params["spread_window"], params["long_window"], params["calendar"]
    )


def _split(params: dict[str, Any], names: Container[str]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in names}


def build_detector(name: str = DEFAULT_DETECTOR, **params: Any) -> AnomalyDetector:
    """A new, unfitted detector; bad names or parameters raise `BadUserInput`."""
    if name in MODEL_PARAMS:
        p = resolve_params(name, {**MODEL_PARAMS[name], **_FEATURES, **_COMMON}, params)
        return WindowedDetector(name, _split(p, MODEL_PARAMS[name]), _spec(p), p["max_train"])
    if name == "timeseries":
        inner = params.get("model", "knn")
        inner = _SUBSEQUENCE["model"].check("model", inner)
        p = resolve_params(name, {**_SUBSEQUENCE, **MODEL_PARAMS[inner], **_COMMON}, params)
        return SubsequenceDetector(
            p["window_size"], inner, _split(p, MODEL_PARAMS[inner]), p["max_train"]
        )
    if name == "ensemble":
        members = params.pop("members", DEFAULT_MEMBERS)
        if isinstance(members, str) or not isinstance(members, Sequence) or not members:
            raise BadUserInput(
                "members: must be a non-empty list of detector names", field="members"
            )
        p = resolve_params(name, {**_FEATURES, **_COMMON}, params)
        built = []
        for member in members:
            if member not in MODEL_PARAMS and member != "timeseries":
                allowed = ", ".join((*MODEL_PARAMS, "timeseries"))
                raise BadUserInput(
                    f"members: {member!r} is not a detector (use {allowed})", field="members"
                )
            own = {"max_train": p["max_train"]}
            if member != "timeseries":
                own |= _split(p, _FEATURES)
            built.append(build_detector(member, **own))
        return EnsembleDetector(built, p["max_train"])
    raise BadUserInput(
        f"detector: unknown detector {name!r} (use {', '.join(DETECTORS)})", field="detector"
    )
