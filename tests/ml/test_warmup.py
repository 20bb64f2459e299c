"""The ML stack's cold start is paid at start-up, not by the first request."""

from __future__ import annotations

import subprocess
import sys

from starlette.applications import Starlette

from analytics_gateway.app import Gateway

PROBE = """
import sys
from analytics_gateway.ml.warmup import warm_up
from pyod.models import hbos
before = len(hbos._calculate_outlier_scores.signatures)
warm_up()
after = len(hbos._calculate_outlier_scores.signatures)
print(before, after, "statsforecast.models" in sys.modules)
"""


def test_warm_up_compiles_the_default_detector_and_imports_the_forecaster() -> None:
    # A fresh interpreter: in this one an earlier test may have compiled it already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=240
    ).stdout.split()
    assert out == ["0", "1", "True"]


async def test_the_lifespan_starts_the_warm_up(app: Starlette) -> None:
    gateway: Gateway = app.state.gateway
    warmed_up = gateway.services.ml.warmed_up
    assert warmed_up is not None
    assert await warmed_up > 0
