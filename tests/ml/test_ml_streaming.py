"""Live scoring: a trained model scores new points as they arrive and alerts subscribers."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette

from analytics_gateway.app import Gateway
from analytics_gateway.ingest import RawPoint
from analytics_gateway.ml.detectors import build_detector
from analytics_gateway.ml.live import LiveModel
from analytics_gateway.ml.registry import ANOMALY, ModelRecord
from tests.conftest import MakeKey, open_ws, post_json, post_points
from tests.ml.ml_helpers import STEP_MS, now_ms, points, wave

ANOMALIES = """subscription($metric: String) {
  anomalies(metric: $metric) {
    modelId metric labels detector timestamp value score threshold expectedLower expectedUpper
    cursor
  }
}"""
TRAIN = """mutation { trainModel(input: {metric: "cpu", labels: {host: "a"}, detector: "hbos",
  window: "1d"}) { id } }"""


async def test_a_new_anomalous_point_reaches_a_websocket_subscriber(
    base: str, app: Starlette, make_key: MakeKey
) -> None:
    key, other_key = await make_key("acme"), await make_key("globex")
    end = now_ms() - 10 * STEP_MS
    history = wave(300)
    await post_points(base, key, points("cpu", history, end_ms=end,
                                                         labels={"host": "a"}))  # fmt: skip
    trained = await post_json(base, key, "/graphql", {"query": TRAIN})
    model_id = trained["data"]["trainModel"]["id"]

    ws = await open_ws(base, key)
    await ws.subscribe(ANOMALIES, {"metric": "cpu"})
    other = await open_ws(base, other_key)
    await other.subscribe(ANOMALIES, {"metric": "cpu"})
    await asyncio.sleep(0.2)

    normal = {"name": "cpu", "labels": {"host": "a"}, "value": history[-120],
              "timestamp": end + STEP_MS}  # fmt: skip
    await post_points(base, key, [normal])
    with pytest.raises(TimeoutError):
        await ws.next_data(timeout=0.5)

    spike = {**normal, "value": 500.0, "timestamp": end + 2 * STEP_MS}
    await post_points(base, key, [spike])
    event = (await ws.next_data())["payload"]["data"]["anomalies"]
    assert event["modelId"] == model_id
    assert (event["metric"], event["labels"], event["detector"]) == ("cpu", {"host": "a"}, "hbos")
    assert event["value"] == 500.0
    assert event["threshold"] <= event["score"] <= 1
    assert event["expectedLower"] < history[-1] < event["expectedUpper"] < 500
    assert event["cursor"]

    # the other tenant's subscriber hears nothing, and a different series is not scored
    other_series = {**spike, "labels": {"host": "b"}, "timestamp": end + 3 * STEP_MS}
    await post_points(base, key, [other_series])
    with pytest.raises(TimeoutError):
        await other.next_data(timeout=0.3)
    with pytest.raises(TimeoutError):
        await ws.next_data(timeout=0.3)
    gateway: Gateway = app.state.gateway
    assert gateway.services.ml is not None
    assert gateway.services.ml.live.scored_points == 2
    async with httpx.AsyncClient() as http:
        exposed = (await http.get(f"http://{base}/metrics")).text
    assert "gateway_ml_scored_points_total 2.0" in exposed.splitlines()
    assert "gateway_ml_dropped_batches_total 0.0" in exposed.splitlines()
    await ws.close()
    await other.close()


async def test_a_model_saved_elsewhere_is_found_by_the_sync(
    app: Starlette, make_key: MakeKey
) -> None:
    """Another replica trained it: this one finds it in the registry and scores with it."""
    gateway: Gateway = app.state.gateway
    ml = gateway.services.ml
    assert ml is not None
    ts = np.arange(300, dtype=np.int64) * STEP_MS
    detector = build_detector("hbos").fit(ts, np.asarray(wave(300)))
    record = _record("a1", int(ts[0]), int(ts[-1]))
    await ml.registry.save("acme", record, detector.to_bytes())
    assert not ml.live.watches("acme", "cpu")
    await ml.live.sync()
    assert ml.live.watches("acme", "cpu")
    assert not ml.live.watches("globex", "cpu")

    async with gateway.services.hub.listen("ag:acme:anomalies") as queue:
        await gateway.services.ingest.ingest_points("acme", [_raw(int(ts[-1]) + STEP_MS, 500.0)])
        await asyncio.wait_for(ml.live.idle(), 5)
        _, events = await asyncio.wait_for(queue.get(), 5)
    assert [(e["modelId"], e["v"]) for e in events] == [("a1", 500.0)]

    await ml.delete("acme", "a1")
    assert not ml.live.watches("acme", "cpu")


def test_scoring_point_by_point_matches_scoring_a_batch() -> None:
    """The rolling context makes live scores independent of how points were batched."""
    values = np.asarray(wave(500, spike_at=460, seed=3))
    ts = np.arange(500, dtype=np.int64) * STEP_MS
    detector = build_detector("knn").fit(ts[:400], values[:400])
    record = _record("b2", 0, int(ts[399]))

    def model() -> LiveModel:
        fresh = build_detector("knn").fit(ts[:400], values[:400])
        return LiveModel(record, fresh, ts[:400], values[:400])

    batch = model().score(ts[400:].tolist(), values[400:].tolist())
    one = model()
    single = [e for i in range(400, 500) for e in one.score([int(ts[i])], [float(values[i])])]
    assert batch == single
    assert [e["t"] for e in batch] == [int(ts[460])]
    assert detector.fitted
    # points at or before the last one seen are not scored twice
    assert one.score([int(ts[460])], [500.0]) == []


def _record(model_id: str, start: int, end: int) -> ModelRecord:
    return ModelRecord(
        id=model_id, name="cpu", kind=ANOMALY, metric="cpu", labels={"host": "a"},
        method="hbos", parameters={}, trained_from_ms=start, trained_to_ms=end,
        training_points=300, step_ms=STEP_MS, trained_at_ms=end, threshold=0.997,
        sensitivity="MEDIUM",
    )  # fmt: skip


def _raw(timestamp: int, value: float) -> RawPoint:
    return RawPoint("cpu", value, {"host": "a"}, timestamp)
