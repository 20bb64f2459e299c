"""One metric name rule: a name with '-' is ingested, queried, alerted on and used in formulas.

`http-errors` is a valid name at ingest, so it must be one everywhere an
expression names a metric: an alert condition reads it, a KPI formula divides
it. Subtraction after a name is written with spaces (`http-errors - 1`).
"""

from __future__ import annotations

from typing import Any

import pytest

from analytics_gateway.config import Settings
from tests.alerting.conftest import Clock, alert, alert_gateway, client_for, create_alert, tick
from tests.conftest import MakeKey
from tests.dashboards.helpers import by_title, create, iso, read

MINUTE = 60_000

QUERY = """query($labels: JSON) {
  metrics(query: {name: "http-errors", labels: $labels, last: "1h"}) {
    name labels summary { count max last }
  }
}"""

INGEST = """mutation($points: [MetricPointInput!]!) {
  ingestMetrics(points: $points) { accepted rejected { index message } }
}"""

SIMULATE = """query($rule: AlertRuleInput!) {
  simulateAlert(rule: $rule, last: "10m") { transitions { state value } }
}"""

CREATE_ALERT = 'mutation($c: String!) { createAlert(input: {name: "x", condition: $c}) { id } }'


def _point(
    name: str, value: float, at_ms: int, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {"name": name, "value": value, "labels": labels, "timestamp": iso(at_ms)}


async def test_a_name_with_a_dash_works_from_ingest_to_alerts_and_kpi_formulas(
    settings: Settings, make_key: MakeKey
) -> None:
    clock = Clock()
    key = await make_key("acme", "ingest,read,write")
    async with alert_gateway(settings, clock) as app, client_for(app, key) as gql:
        # ingest over GraphQL: two error counts under the threshold, and the requests
        errors_500 = {"code": "500"}
        points = [
            _point("http-errors", 2.0, clock.now - 3 * MINUTE, errors_500),
            _point("http-errors", 4.0, clock.now - 2 * MINUTE, errors_500),
        ] + [_point("requests", 100.0, clock.now - m * MINUTE) for m in (3, 2, 1)]
        body = await gql.execute(INGEST, {"points": points})
        assert body["data"]["ingestMetrics"] == {"accepted": 5, "rejected": []}, body

        rule = await create_alert(
            gql,
            name="errors",
            condition='avg(http-errors{code="500"}[5m]) > 5',
            interval="10s",
        )
        await tick(app)
        assert (await alert(gql, rule["id"]))["state"] == "INACTIVE"  # avg 3

        # ingest over REST: a burst that lifts the 5m average above 5
        burst = [{"name": "http-errors", "value": 15.0, "labels": errors_500,
                  "timestamp": clock.now - MINUTE // 2}]  # fmt: skip
        response = await gql.http.post(
            "/analytics/metrics", json=burst, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text

        # queried by name
        body = await gql.execute(QUERY, {"labels": errors_500})
        [series] = body["data"]["metrics"]
        assert series["name"] == "http-errors"
        assert series["labels"] == errors_500
        assert series["summary"] == {"count": 3, "max": 15.0, "last": 15.0}

        # alerted on: the rule fires once its average is (2 + 4 + 15) / 3 = 7
        clock.advance(10)
        await tick(app)
        firing = await alert(gql, rule["id"])
        assert firing["state"] == "FIRING"
        assert firing["instances"][0]["value"] == pytest.approx(7.0)

        # a bare name with '-' in a simulated rule, and subtraction written with spaces
        for condition in ("http-errors > 5", "http-errors - 10 > 0"):
            simulated = await gql.execute(SIMULATE, {"rule": {"name": "s", "condition": condition}})
            assert "errors" not in simulated, simulated
            transitions = simulated["data"]["simulateAlert"]["transitions"]
            assert [t["state"] for t in transitions][-1:] == ["FIRING"], (condition, transitions)

        # used in KPI formulas: totals over the last hour
        dashboard = await create(
            gql,
            "Errors",
            [
                {"type": "KPI", "title": "error ratio", "formula": "http-errors / requests",
                 "aggregation": "SUM"},
                {"type": "KPI", "title": "500s minus one",
                 "formula": 'http-errors{code="500"} - 1', "aggregation": "SUM"},
                {"type": "KPI", "title": "by variable", "formula": "${kind}-errors * 2",
                 "aggregation": "SUM"},
            ],
            variables=[{"name": "kind", "default": "http"}],
        )  # fmt: skip
        widgets = by_title(await read(gql, dashboard["id"]))
        assert widgets["error ratio"]["data"]["value"] == pytest.approx(21 / 300)
        assert widgets["500s minus one"]["data"]["value"] == pytest.approx(20.0)
        assert widgets["by variable"]["data"]["value"] == pytest.approx(42.0)


async def test_a_name_ending_in_a_dash_is_refused_with_the_way_to_subtract(
    settings: Settings, make_key: MakeKey
) -> None:
    clock = Clock()
    key = await make_key("acme", "ingest,read,write")
    async with alert_gateway(settings, clock) as app, client_for(app, key) as gql:
        body = await gql.execute(CREATE_ALERT, {"c": "http-errors- requests > 1"})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["column"] == 1
        assert "'http-errors-' cannot end with '-'" in error["message"]
        assert "write subtraction with spaces (a - b)" in error["message"]

        body = await gql.execute(CREATE_ALERT, {"c": "cpu_$host > 90"})
        [error] = body["errors"]
        assert "dashboard variable" in error["message"]

        body = await gql.execute(
            'mutation($c: [WidgetInput!]!) { createCustomDashboard(name: "x", components: $c)'
            " { id } }",
            {"c": [{"type": "KPI", "formula": "http-errors- requests"}]},
        )
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "formula: 'http-errors-' cannot end with '-'" in error["message"]
