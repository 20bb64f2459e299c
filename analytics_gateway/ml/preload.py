"""Imported by the ML workers' forkserver once: every worker forked from it starts warm.

Importing PyOD and statsforecast and compiling the default detector's numba
code take seconds (see `warmup`); done here, in the forkserver, each worker
inherits the result instead of paying it.
"""

from __future__ import annotations

from analytics_gateway.ml.warmup import warm_up

warm_up()
