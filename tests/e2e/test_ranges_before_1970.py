"""Ranges outside what the gateway stores are refused by field, on every entry point.

No point or event is stored before 1970 (ingest refuses them), and a range's previous
period (a KPI's, a report's) must still be a date: `from` in the year 1 once answered
INTERNAL_SERVER_ERROR from `kpi` and `generateReport`, and 500 from the PDF route.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient

YEAR_ONE = {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}


def _refused(body: dict[str, Any], field: str) -> None:
    errors = body.get("errors")
    assert errors, body
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
    assert errors[0]["extensions"]["field"] == field, errors


async def test_ranges_before_1970_or_past_8999_are_refused_by_field(gql: GraphQLClient) -> None:
    kpi = await gql.execute(
        'mutation { createKpi(input: {name: "k", formula: "m", aggregation: SUM}) { id } }'
    )
    kpi_id = kpi["data"]["createKpi"]["id"]
    report = await gql.execute(
        'mutation { createReport(input: {name: "r", panels: [{metric: "m"}]}) { id } }'
    )
    report_id = report["data"]["createReport"]["id"]

    reading = """query($id: ID!, $from: DateTime, $to: DateTime) {
      kpi(id: $id, from: $from, to: $to) { value } }"""
    _refused(await gql.execute(reading, {"id": kpi_id, **YEAR_ONE}), "from")
    far = {"from": "9500-01-01T00:00:00Z", "to": "9500-01-02T00:00:00Z"}
    _refused(await gql.execute(reading, {"id": kpi_id, **far}), "to")
    _refused(await gql.execute('{ sessions(last: "100000d") { count } }'), "last")

    generate = """query($id: ID!, $from: DateTime, $to: DateTime) {
      generateReport(id: $id, from: $from, to: $to) { pdfBytes } }"""
    _refused(await gql.execute(generate, {"id": report_id, **YEAR_ONE}), "from")

    pdf = await gql.http.get(
        f"/analytics/reports/{report_id}/pdf",
        params=YEAR_ONE,
        headers={"Authorization": f"Bearer {gql.key}"},
    )
    assert pdf.status_code == 400, pdf.text
    assert pdf.json()["errors"][0]["extensions"]["field"] == "from"
