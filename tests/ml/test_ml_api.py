"""The ML contract through GraphQL and REST: shapes, errors, models, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from analytics_gateway.app import Gateway
from analytics_gateway.ml.registry import tenant_directory
from tests.conftest import GraphQLClient, MakeKey
from tests.ml.ml_helpers import STEP_MS, ingest, now_ms, points, wave

N = 600
SPIKE = 560

REPORT = """
  metric labels detector modelId walkForward trainedFrom trainedTo threshold points count
  alertCount anomalies { timestamp value score expectedLower expectedUpper alert }
"""
MODEL = """
  id name kind metric labels method parameters trainedFrom trainedTo trainingPoints trainedAt
  threshold sensitivity version
  evaluation { fitSeconds holdoutPoints holdoutAlerts holdoutAlertRate backtestMase baselineMase
               seasonLength horizonPoints }
"""
TRAIN = "mutation($input: TrainModelInput!) { trainModel(input: $input) { MODEL } }".replace(
    "MODEL", MODEL
)
DETECT = """query($detector: String, $sensitivity: Sensitivity, $parameters: JSON) {
  detectAnomalies(metrics: ["cpu"], labels: {host: "a"}, window: "12h", detector: $detector,
                  sensitivity: $sensitivity, parameters: $parameters) { REPORT }
}""".replace("REPORT", REPORT)
PREDICT = """mutation($id: ID!, $data: SeriesData, $horizon: String) {
  predict(modelId: $id, data: $data, horizon: $horizon) {
    model { id kind }
    anomalies { modelId points count anomalies { timestamp value score } scores }
    forecast { model modelId data lower upper backtestMase baselineMase }
  }
}"""


@pytest.fixture
async def seeded(client: httpx.AsyncClient, gql: GraphQLClient) -> dict[str, Any]:
    """`cpu{host=a}`: N minutes ending now, one spike at SPIKE; `cpu{host=b}` without."""
    end = now_ms() - 1000
    assert gql.key is not None
    await ingest(
        client,
        gql.key,
        points("cpu", wave(N, spike_at=SPIKE), end_ms=end, labels={"host": "a"})
        + points("cpu", wave(N, seed=1), end_ms=end, labels={"host": "b"}),
    )
    return {"end": end, "spike_ms": end - (N - 1 - SPIKE) * STEP_MS}


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    error: dict[str, Any] = body["errors"][0]
    return error


async def train(gql: GraphQLClient, **fields: Any) -> dict[str, Any]:
    body = await gql.execute(TRAIN, {"input": {"metric": "cpu", "labels": {"host": "a"}, **fields}})
    assert "errors" not in body, body
    model: dict[str, Any] = body["data"]["trainModel"]
    return model


async def test_walk_forward_detection_finds_the_spike(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    body = await gql.execute(DETECT, {"detector": "hbos"})
    assert "errors" not in body, body
    [report] = body["data"]["detectAnomalies"]
    assert report["metric"] == "cpu"
    assert report["labels"] == {"host": "a"}
    assert report["detector"] == "hbos"
    assert report["walkForward"] is True
    assert report["modelId"] is None
    assert report["trainedFrom"] is None
    assert report["threshold"] == pytest.approx(0.997)
    assert report["points"] == N
    spike = [a for a in report["anomalies"] if a["value"] > 80]
    assert len(spike) == 1
    assert spike[0]["score"] >= 0.997
    assert spike[0]["alert"] is True
    assert spike[0]["expectedLower"] < 60 < spike[0]["expectedUpper"] < spike[0]["value"]
    assert report["count"] == len(report["anomalies"]) >= 1
    assert all(0 <= a["score"] <= 1 for a in report["anomalies"])


async def test_trained_model_shape_and_it_scores_the_series(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    before_spike = iso(seeded["spike_ms"] - 5 * STEP_MS)  # trained on normal data only
    model = await train(
        gql,
        detector="iforest",
        parameters={"n_estimators": 50},
        **{"from": iso(seeded["end"] - 12 * 3_600_000), "to": before_spike},
    )
    assert model["kind"] == "ANOMALY"
    assert model["method"] == "iforest"
    assert model["labels"] == {"host": "a"}
    assert model["parameters"] == {"n_estimators": 50}
    assert model["trainingPoints"] == SPIKE - 5
    assert model["trainedTo"] < before_spike
    assert model["threshold"] == pytest.approx(0.997)
    assert model["sensitivity"] == "MEDIUM"
    assert model["version"] == 1
    evaluation = model["evaluation"]
    assert evaluation["holdoutPoints"] == (SPIKE - 5) // 5
    assert 0 <= evaluation["holdoutAlertRate"] <= 1
    assert evaluation["fitSeconds"] > 0
    assert evaluation["backtestMase"] is None

    listed = await gql.execute("{ models { id kind method } }")
    assert listed["data"]["models"] == [{"id": model["id"], "kind": "ANOMALY", "method": "iforest"}]

    body = await gql.execute(DETECT)
    [report] = body["data"]["detectAnomalies"]
    assert report["modelId"] == model["id"]
    assert report["walkForward"] is False
    assert report["detector"] == "iforest"
    assert report["trainedFrom"] == model["trainedFrom"]
    assert report["trainedTo"] == model["trainedTo"]
    assert any(a["value"] > 80 and a["score"] >= 0.997 for a in report["anomalies"])

    # Asking for another detector walks forward instead of using the model.
    other = await gql.execute(DETECT, {"detector": "hbos"})
    assert other["data"]["detectAnomalies"][0]["modelId"] is None


async def test_series_carries_its_anomalies_and_forecast(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    query = """{ metrics(query: {name: "cpu", labels: {host: "a"}, last: "12h"}) {
        labels
        anomalies(detector: "hbos", sensitivity: HIGH) { detector threshold walkForward
          anomalies(limit: 5) { value score } scores expectedLower expectedUpper }
        forecast(horizon: "30m", confidenceInterval: 0.9) {
          metric model data lower upper baseline backtestMase baselineMase confidenceInterval
          seasonLength trainingPoints }
    } }"""
    body = await gql.execute(query)
    assert "errors" not in body, body
    [series] = body["data"]["metrics"]
    anomalies = series["anomalies"]
    assert anomalies["detector"] == "hbos"
    assert anomalies["threshold"] == pytest.approx(0.99)
    assert anomalies["walkForward"] is True
    assert len(anomalies["scores"]["t"]) == N
    assert len(anomalies["expectedLower"]["v"]) == len(anomalies["expectedUpper"]["v"]) == N
    assert all(0 <= s <= 1 for s in anomalies["scores"]["v"])
    assert len(anomalies["anomalies"]) <= 5
    forecast = series["forecast"]
    assert forecast["metric"] == "cpu"
    assert len(forecast["data"]["t"]) == 30  # 30 minutes of 1-minute steps
    assert forecast["data"]["t"][0] > seeded["end"]
    for low, mid, high in zip(
        forecast["lower"]["v"], forecast["data"]["v"], forecast["upper"]["v"], strict=True
    ):
        assert low <= mid <= high
    assert forecast["confidenceInterval"] == 0.9
    assert forecast["model"] in {"ets", "theta", "ces"}
    assert forecast["backtestMase"] > 0
    assert forecast["baselineMase"] > 0
    assert forecast["trainingPoints"] == N


async def test_forecast_query_and_forecast_model(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    body = await gql.execute(
        """{ forecast(metric: "cpu", labels: {host: "b"}, horizon: "1h", model: "ets",
                      window: "1d") { metric labels model data backtestMase baselineMase } }"""
    )
    assert "errors" not in body, body
    forecast = body["data"]["forecast"]
    assert (forecast["labels"], forecast["model"]) == ({"host": "b"}, "ets")
    assert len(forecast["data"]["v"]) == 60

    model = await train(gql, kind="FORECAST", method="theta", horizon="20m", window="1d")
    assert (model["kind"], model["method"], model["threshold"]) == ("FORECAST", "theta", None)
    assert model["evaluation"]["horizonPoints"] == 20
    assert model["evaluation"]["backtestMase"] > 0
    predicted = await gql.execute(PREDICT, {"id": model["id"], "horizon": "10m"})
    assert "errors" not in predicted, predicted
    result = predicted["data"]["predict"]
    assert result["anomalies"] is None
    assert result["forecast"]["modelId"] == model["id"]
    assert result["forecast"]["model"] == "theta"
    assert len(result["forecast"]["data"]["v"]) == 10


async def test_predict_with_client_points_and_unknown_models(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    model = await train(gql, detector="hbos")
    end = seeded["end"]
    data = {"t": [end + i * STEP_MS for i in range(1, 4)], "v": [50.0, 51.0, 500.0]}
    body = await gql.execute(PREDICT, {"id": model["id"], "data": data})
    assert "errors" not in body, body
    result = body["data"]["predict"]
    assert result["model"] == {"id": model["id"], "kind": "ANOMALY"}
    assert result["forecast"] is None
    assert result["anomalies"]["points"] == 3
    assert result["anomalies"]["scores"]["t"] == data["t"]
    assert [a["value"] for a in result["anomalies"]["anomalies"]] == [500.0]

    unknown = await gql.execute(PREDICT, {"id": "nope"})
    assert error_of(unknown)["extensions"]["code"] == "NOT_FOUND"
    assert unknown["data"] is None

    bad = await gql.execute(PREDICT, {"id": model["id"], "data": {"t": [2, 1], "v": [1, 2]}})
    assert error_of(bad)["extensions"] == {"code": "BAD_USER_INPUT", "field": "data"}
    assert "ascending" in error_of(bad)["message"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"detector": "nope"}, "detector"),
        ({"detector": "knn", "parameters": {"n_neighbors": 0}}, "n_neighbors"),
        ({"detector": "hbos", "parameters": {"bins": 3}}, "bins"),
        ({"parameters": ["not", "an", "object"]}, "parameters"),
    ],
)
async def test_bad_detection_parameters_name_the_parameter(
    gql: GraphQLClient, variables: dict[str, Any], field: str
) -> None:
    body = await gql.execute(DETECT, variables)
    error = error_of(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert field in error["message"]
    assert body["data"] == {"detectAnomalies": None}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"detector": "iforest", "parameters": {"n_estimators": "many"}}, "n_estimators"),
        ({"window": "soon"}, "window"),
        ({"kind": "FORECAST", "method": "prophet"}, "method"),
        ({"kind": "FORECAST", "detector": "knn"}, "detector"),
        ({"labels": {}}, "labels"),  # both hosts match: not one series
        ({"metric": "absent"}, "metric"),
        ({"kind": "FORECAST", "confidenceInterval": 1.5}, "confidenceInterval"),
    ],
)
async def test_bad_training_input_names_the_parameter(
    gql: GraphQLClient, seeded: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    body = await gql.execute(TRAIN, {"input": {"metric": "cpu", "labels": {"host": "a"}, **fields}})
    error = error_of(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field
    assert (await gql.execute("{ models { id } }"))["data"]["models"] == []


async def test_forecast_errors_name_the_parameter(
    gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    body = await gql.execute(
        '{ forecast(metric: "cpu", labels: {host: "a"}, horizon: "1h", confidenceInterval: 2) '
        "{ model } }"
    )
    assert error_of(body)["extensions"]["field"] == "confidenceInterval"
    body = await gql.execute(
        '{ forecast(metric: "cpu", labels: {host: "a"}, horizon: "0h") { model } }'
    )
    assert error_of(body)["extensions"]["field"] == "horizon"
    assert body["data"] == {"forecast": None}


async def test_retrain_replaces_the_model_and_missing_files_are_reported(
    gql: GraphQLClient, seeded: dict[str, Any], app: Starlette
) -> None:
    first = await train(gql, detector="hbos")
    second = await train(gql, detector="hbos", modelId=first["id"], sensitivity="LOW")
    assert second["id"] == first["id"]
    assert second["version"] == 2
    assert second["threshold"] == pytest.approx(0.999)
    gateway: Gateway = app.state.gateway
    ml = gateway.services.ml
    assert ml is not None
    directory = ml.registry.root / tenant_directory("acme")
    [only] = list(directory.iterdir())
    assert only.name.startswith(f"{first['id']}-2-")

    only.unlink()
    body = await gql.execute(PREDICT, {"id": first["id"], "data": {"t": [1], "v": [1.0]}})
    error = error_of(body)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["reason"] == "file_missing"
    assert "train it again" in error["message"]
    retrained = await train(gql, detector="hbos", modelId=first["id"])
    assert retrained["version"] == 3
    assert "errors" not in await gql.execute(
        PREDICT, {"id": first["id"], "data": {"t": [1], "v": [1.0]}}
    )

    deleted = await gql.execute("mutation($id: ID!) { deleteModel(id: $id) }", {"id": first["id"]})
    assert deleted["data"]["deleteModel"] is True
    assert list(directory.iterdir()) == []
    assert (await gql.execute("{ models { id } }"))["data"]["models"] == []


async def test_models_are_isolated_per_tenant_in_graphql_and_rest(
    client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey, seeded: dict[str, Any]
) -> None:
    model = await train(gql, detector="hbos")
    other = GraphQLClient(client, await make_key("globex"))
    assert (await other.execute("{ models { id } }"))["data"]["models"] == []
    predicted = await other.execute(PREDICT, {"id": model["id"]})
    assert error_of(predicted)["extensions"]["code"] == "NOT_FOUND"
    deleted = await other.execute(
        "mutation($id: ID!) { deleteModel(id: $id) }", {"id": model["id"]}
    )
    assert deleted["data"]["deleteModel"] is False
    # globex has no cpu data: its detection sees none of acme's series
    body = await other.execute(DETECT)
    assert body["data"]["detectAnomalies"] == []

    headers = {"Authorization": f"Bearer {other.key}"}
    listed = await client.get("/analytics/ml/models", headers=headers)
    assert listed.json() == {"models": []}
    rest_predict = await client.post(
        "/analytics/ml/predict", json={"modelId": model["id"]}, headers=headers
    )
    assert rest_predict.status_code == 404
    assert rest_predict.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # acme's model is untouched
    assert (await gql.execute("{ models { id } }"))["data"]["models"] == [{"id": model["id"]}]


async def test_rest_train_predict_and_list(
    client: httpx.AsyncClient, gql: GraphQLClient, seeded: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {gql.key}"}
    trained = await client.post(
        "/analytics/ml/train",
        json={"metric": "cpu", "labels": {"host": "a"}, "detector": "hbos", "window": "12h"},
        headers=headers,
    )
    assert trained.status_code == 201, trained.text
    model = trained.json()
    assert model["kind"] == "anomaly"
    assert model["method"] == "hbos"
    assert model["trainingPoints"] == N
    assert model["evaluation"]["holdoutPoints"] == N // 5

    listed = await client.get("/analytics/ml/models", headers=headers)
    assert [m["id"] for m in listed.json()["models"]] == [model["id"]]
    assert (await client.get("/analytics/ml/models?kind=forecast", headers=headers)).json() == {
        "models": []
    }

    predicted = await client.post(
        "/analytics/ml/predict", json={"modelId": model["id"], "window": "12h"}, headers=headers
    )
    assert predicted.status_code == 200, predicted.text
    answer = predicted.json()
    assert answer["model"]["id"] == model["id"]
    assert answer["forecast"] is None
    anomalies = answer["anomalies"]
    assert anomalies["modelId"] == model["id"]
    assert anomalies["points"] == N
    assert any(a["timestamp"] == seeded["spike_ms"] for a in anomalies["anomalies"])
    assert len(anomalies["scores"]["v"]) == N


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/analytics/ml/train", {"labels": {"host": "a"}}, 400, "metric"),
        ("/analytics/ml/train", {"metric": "cpu", "kind": "magic"}, 400, "kind"),
        ("/analytics/ml/train", {"metric": "cpu", "detector": "x"}, 400, "detector"),
        (
            "/analytics/ml/train",
            {"metric": "cpu", "detector": "knn", "parameters": {"n_neighbors": -1}},
            400,
            "n_neighbors",
        ),
        ("/analytics/ml/train", {"metric": "cpu", "sensitivity": "EXTREME"}, 400, "sensitivity"),
        ("/analytics/ml/predict", {}, 400, "modelId"),
        ("/analytics/ml/predict", {"modelId": "x", "data": {"t": [1]}}, 400, "data"),
        ("/analytics/ml/predict", {"modelId": "unknown"}, 404, None),
    ],
)
async def test_rest_errors_are_coded(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {gql.key}"})
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == ("NOT_FOUND" if status == 404 else "BAD_USER_INPUT")
    assert error["extensions"].get("field") == field


async def test_rest_needs_a_key_and_the_write_scope(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    anonymous = await client.get("/analytics/ml/models")
    assert anonymous.status_code == 401
    reader = {"Authorization": f"Bearer {await make_key('acme', 'read')}"}
    refused = await client.post("/analytics/ml/train", json={"metric": "cpu"}, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
