"""ML alerts: a rule on a trained model's anomaly score, fired by live scoring of new points."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

from analytics_gateway.app import Gateway
from tests.alerting.conftest import Clock, alert, client_for, data, errors, ingest_many, tick
from tests.conftest import GraphQLClient, MakeKey
from tests.ml.ml_helpers import STEP_MS, points, wave

TRAIN = """mutation { trainModel(input: {metric: "cpu", labels: {host: "a"}, detector: "hbos",
  window: "1d"}) { id } }"""
CREATE = """mutation($model: ID!, $threshold: Float, $sensitivity: Sensitivity) {
  createMlAlert(name: "cpu anomaly", model: $model, threshold: $threshold,
                sensitivity: $sensitivity, severity: CRITICAL) {
    id condition labels severity state } }"""
MODELS = "{ models { id threshold } }"
SCORES = """query($model: String!) {
  metrics(query: {name: "ml_anomaly_score", labels: {model: $model}, last: "1h"}) { data } }"""


async def _trained_model(acme: GraphQLClient, clock: Clock) -> str:
    """A model of cpu{host=a} trained on 300 normal minutes ending two steps ago."""
    history = wave(300)
    await ingest_many(
        acme, points("cpu", history, end_ms=clock.now - 2 * STEP_MS, labels={"host": "a"})
    )
    return str((await data(acme, TRAIN))["trainModel"]["id"])


async def _scored(app: Starlette) -> None:
    gateway: Gateway = app.state.gateway
    assert gateway.services.ml is not None
    await asyncio.wait_for(gateway.services.ml.live.idle(), 10)


async def test_an_ml_alert_fires_on_the_score_of_an_anomalous_point(
    app: Starlette, acme: GraphQLClient, clock: Clock
) -> None:
    model_id = await _trained_model(acme, clock)
    created = (await data(acme, CREATE, {"model": model_id}))["createMlAlert"]
    [trained] = [m for m in (await data(acme, MODELS))["models"] if m["id"] == model_id]
    threshold = trained["threshold"]  # the model's own, calibrated when it was trained
    assert 0.9 < threshold < 1
    assert created["condition"] == f'ml_anomaly_score{{model="{model_id}"}} >= {threshold!r}'
    assert created["labels"] == {"model": model_id, "metric": "cpu"}
    assert (created["severity"], created["state"]) == ("CRITICAL", "INACTIVE")

    normal = {"name": "cpu", "labels": {"host": "a"}, "value": wave(301)[300]}  # the wave goes on
    await ingest_many(acme, [{**normal, "timestamp": clock.now - STEP_MS}])
    await _scored(app)
    clock.advance(1)
    await tick(app)
    assert (await alert(acme, created["id"]))["state"] == "INACTIVE"

    await ingest_many(acme, [{**normal, "value": 500.0, "timestamp": clock.now}])
    await _scored(app)
    clock.advance(1)
    await tick(app)
    firing = await alert(acme, created["id"])
    assert firing["state"] == "FIRING"
    assert firing["instances"][0]["value"] >= threshold

    # every new point's score is a point of ml_anomaly_score, readable like any metric
    [series] = (await data(acme, SCORES, {"model": model_id}))["metrics"]
    scores = series["data"]["v"]
    assert len(scores) == 2
    assert scores[0] < threshold <= scores[1] <= 1


async def test_ml_alerts_check_the_model_and_the_threshold(
    app: Starlette, acme: GraphQLClient, make_key: MakeKey, clock: Clock
) -> None:
    model_id = await _trained_model(acme, clock)
    [missing] = await errors(acme, CREATE, {"model": "nope"})
    assert missing["extensions"]["code"] == "NOT_FOUND"
    [too_high] = await errors(acme, CREATE, {"model": model_id, "threshold": 1.5})
    assert too_high["extensions"]["code"] == "BAD_USER_INPUT"
    assert "threshold" in too_high["message"]
    # another tenant cannot alert on this tenant's model, nor see that it exists
    async with client_for(app, await make_key("globex", "ingest,read,write")) as globex:
        [foreign] = await errors(globex, CREATE, {"model": model_id})
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    explicit = await data(acme, CREATE, {"model": model_id, "threshold": 0.95})
    assert explicit["createMlAlert"]["condition"].endswith(">= 0.95")
