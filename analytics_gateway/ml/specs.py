"""Training and prediction requests as clients send them, checked once for GraphQL and REST.

`train_spec` turns the arguments of `trainModel` / `POST /analytics/ml/train`
into a `TrainSpec`; `parameters_of` and `columns_of` check the free-form parts
(detector parameters, points sent as columns). Both entry points call these,
so they accept and refuse exactly the same requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import BadUserInput
from analytics_gateway.inputs import label_filter, metric_name, time_range
from analytics_gateway.ml.detectors import Sensitivity
from analytics_gateway.ml.registry import ANOMALY
from analytics_gateway.ml.service import TrainSpec

DEFAULT_TRAIN_MS = 7 * 86_400_000
MAX_NAME_LENGTH = 200


def parameters_of(raw: Any, field: str = "parameters") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadUserInput(f"{field}: must be an object of parameter name to value", field=field)
    return dict(raw)


def train_spec(
    *,
    now_ms: int,
    metric: str,
    labels: Any = None,
    kind: str = ANOMALY,
    window: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    detector: str | None = None,
    method: str | None = None,
    parameters: Any = None,
    sensitivity: Sensitivity = Sensitivity.MEDIUM,
    horizon: str | None = None,
    confidence_interval: float = 0.95,
    name: str | None = None,
    model_id: str | None = None,
) -> TrainSpec:
    """A checked training request."""
    if kind == ANOMALY and method is not None:
        raise BadUserInput("method: only for FORECAST models; use `detector`", field="method")
    if kind != ANOMALY and detector is not None:
        raise BadUserInput("detector: only for ANOMALY models; use `method`", field="detector")
    if name is not None and not 0 < len(name) <= MAX_NAME_LENGTH:
        raise BadUserInput(f"name: must be 1 to {MAX_NAME_LENGTH} characters", field="name")
    if window is not None:
        if start is not None or end is not None:
            raise BadUserInput("window: give either `window` or `from`/`to`", field="window")
        parse_duration_ms(window, field="window")
    start_ms, end_ms = time_range(window, start, end, now_ms=now_ms, default_ms=DEFAULT_TRAIN_MS)
    assert start_ms is not None
    assert end_ms is not None
    return TrainSpec(
        metric=metric_name(metric, "metric"),
        labels=label_filter(labels),
        start_ms=start_ms,
        end_ms=end_ms,
        kind=kind,
        method=detector if kind == ANOMALY else method,
        parameters=parameters_of(parameters),
        sensitivity=sensitivity,
        horizon=horizon,
        confidence_interval=confidence_interval,
        name=name,
        model_id=model_id,
    )


def columns_of(data: Any) -> tuple[list[int], list[float]] | None:
    """Points a client sent as SeriesData columns (numbers only, never a model)."""
    if data is None:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("t"), list):
        raise BadUserInput('data: must be {"t": [epoch ms...], "v": [number...]}', field="data")
    if not isinstance(data.get("v"), list) or len(data["t"]) != len(data["v"]):
        raise BadUserInput("data: `t` and `v` must be lists of equal length", field="data")
    return data["t"], data["v"]
