"""PyOD estimators by name, fitted on a feature matrix and calibrated.

`TabularModel` scales features robustly (median / IQR of the training rows),
fits one PyOD estimator and keeps the ECDF of its training scores. Scoring a
row never depends on the other rows scored with it: PyOD's ECOD and COPOD
re-rank test rows together with the training set (a batch's later rows would
shift an earlier row's score), so for those two the tail probabilities are
taken from the training ECDF alone, with PyOD's own formulas.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics_gateway.ml.calibration import Calibrator, ecdf_counts
from analytics_gateway.ml.params import Param

FloatArray = npt.NDArray[np.float64]

MODEL_PARAMS: dict[str, dict[str, Param]] = {
    "knn": {
        "n_neighbors": Param(int, 5, low=1, high=200),
        "method": Param(str, "largest", choices=("largest", "mean", "median")),
    },
    "iforest": {
        "n_estimators": Param(int, 100, low=10, high=1000),
        "max_samples": Param(int, 256, low=16, high=100_000),
        "random_state": Param(int, 0, low=0, high=2**31 - 1),
    },
    "hbos": {
        "n_bins": Param(int, 10, low=2, high=1000),
        "alpha": Param(float, 0.1, low=1e-6, high=1.0),
        "tol": Param(float, 0.5, low=0.0, high=1.0),
    },
    "ecod": {},
    "copod": {},
}


def _estimator(name: str, params: dict[str, Any], n_rows: int) -> Any:
    """A fresh PyOD estimator (imported lazily: PyOD is slow to import)."""
    if name == "knn":
        from pyod.models.knn import KNN  # type: ignore[import-untyped]

        k = min(params["n_neighbors"], max(n_rows - 1, 1))
        return KNN(n_neighbors=k, method=params["method"])
    if name == "iforest":
        from pyod.models.iforest import IForest  # type: ignore[import-untyped]

        return IForest(
            n_estimators=params["n_estimators"],
            max_samples=min(params["max_samples"], n_rows),
            random_state=params["random_state"],
        )
    if name == "hbos":
        from pyod.models.hbos import HBOS  # type: ignore[import-untyped]

        return HBOS(n_bins=params["n_bins"], alpha=params["alpha"], tol=params["tol"])
    if name == "ecod":
        from pyod.models.ecod import ECOD  # type: ignore[import-untyped]

        return ECOD()
    if name == "copod":
        from pyod.models.copod import COPOD  # type: ignore[import-untyped]

        return COPOD()
    raise ValueError(f"unknown model {name}")


def _tails(sorted_train: FloatArray, X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """-log of each value's left and right ECDF tail against the training columns."""
    n = sorted_train.shape[0]
    # As if each row were appended to the training set on its own: -log((count + 1) / (n + 1)).
    neg_log = np.log(n + 1.0) - np.log(np.arange(1, n + 2, dtype=np.float64))
    left = np.empty_like(X)
    right = np.empty_like(X)
    for j in range(X.shape[1]):  # one vectorised pass per feature column
        le, ge = ecdf_counts(sorted_train[:, j], X[:, j])
        left[:, j] = neg_log[le]
        right[:, j] = neg_log[ge]
    return left, right


def _copula_score(
    name: str, sorted_train: FloatArray, skew: FloatArray, X: FloatArray
) -> FloatArray:
    """ECOD / COPOD outlyingness of each row of X against the training ECDF."""
    u_left, u_right = _tails(sorted_train, X)
    u_skew = u_left * -1 * np.sign(skew - 1) + u_right * np.sign(skew + 1)
    if name == "ecod":
        outlying = np.maximum(u_skew, np.maximum(u_left, u_right))
    else:
        outlying = np.maximum(u_skew, (u_left + u_right) / 2)
    out: FloatArray = outlying.sum(axis=1)
    return out


@dataclass
class TabularModel:
    """One fitted PyOD estimator, its feature scaling and its calibration."""

    name: str
    center: FloatArray
    scale: FloatArray
    estimator: Any
    calibrator: Calibrator
    sorted_train: FloatArray | None = None
    skew: FloatArray | None = None

    @classmethod
    def fit(cls, name: str, params: dict[str, Any], X: FloatArray) -> TabularModel:
        center = np.median(X, axis=0)
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        scale = q75 - q25
        std = X.std(axis=0)
        scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
        Xs = (X - center) / scale
        estimator = _estimator(name, params, Xs.shape[0])
        with warnings.catch_warnings():
            # ECOD/COPOD's skewness warns on constant columns; the result is still defined.
            warnings.simplefilter("ignore", RuntimeWarning)
            estimator.fit(Xs)
        model = cls(name, center, scale, estimator, Calibrator.fit(estimator.decision_scores_))
        if name in ("ecod", "copod"):
            model.sorted_train = np.sort(Xs, axis=0)
            model.skew = np.sign(np.nan_to_num(_skewness(Xs)))
            del estimator.X_train  # scoring uses sorted_train; keep the model small
        return model

    def raw(self, X: FloatArray) -> FloatArray:
        """Uncalibrated PyOD scores (higher is more anomalous)."""
        Xs = (X - self.center) / self.scale
        if self.sorted_train is not None and self.skew is not None:
            return _copula_score(self.name, self.sorted_train, self.skew, Xs)
        out: FloatArray = np.asarray(self.estimator.decision_function(Xs), dtype=np.float64)
        return out

    def surprise(self, X: FloatArray) -> FloatArray:
        return self.calibrator.surprise(self.raw(X))


def _skewness(X: FloatArray) -> FloatArray:
    """Sample skewness per column (0 for constant columns), as PyOD's ECOD uses its sign."""
    dev = X - X.mean(axis=0)
    m2 = (dev**2).mean(axis=0)
    m3 = (dev**3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(m2 > 1e-12, m3 / np.power(m2, 1.5), 0.0)
    return out
