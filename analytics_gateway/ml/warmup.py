"""Pay the ML stack's cold start once, at start-up, instead of on a user's request.

Measured on a 2-core machine, in every new process: importing PyOD takes ~2.2 s,
statsforecast ~0.7 s, and the default ensemble's first fit ~4.1 s while numba
compiles HBOS's scoring loop (PyOD does not ask numba to cache it on disk). A new
server's first dashboard with an anomaly widget took 6.4 s instead of ~0.5 s.
Run in a worker thread right after start-up, this is done before most first
requests arrive; a request that comes earlier waits on the same import lock or
compile instead of doing the work twice.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from analytics_gateway.ml import forecast
from analytics_gateway.ml.detectors import build_detector

log = logging.getLogger(__name__)

_POINTS = 256
_STEP_MS = 60_000


def warm_up() -> float:
    """Import the forecaster and fit and score the default detector once; seconds taken."""
    started = time.perf_counter()
    forecast.warm_up()
    rng = np.random.default_rng(0)
    timestamps = np.arange(_POINTS, dtype=np.int64) * _STEP_MS
    values = rng.normal(size=_POINTS)
    build_detector().fit(timestamps, values).score(timestamps[-8:], values[-8:])
    elapsed = time.perf_counter() - started
    log.info("ML warmed up in %.1f s", elapsed)
    return elapsed
