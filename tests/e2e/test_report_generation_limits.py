"""Report generation is bounded per tenant: one at a time, two more waiting, the rest
RATE_LIMITED, so a tenant asking for many at once (aliases in one request) waits for
its own reports and another tenant's report is not held behind them."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import GraphQLClient, MakeKey

CREATE = 'mutation { createReport(input: {name: "r", panels: [{metric: "m"}]}) { id } }'


async def _report(client: GraphQLClient) -> str:
    await client.execute(
        'mutation { ingestMetrics(points: [{name: "m", value: 1}, {name: "m", value: 2}]) '
        "{ accepted } }"
    )
    body = await client.execute(CREATE)
    report_id: str = body["data"]["createReport"]["id"]
    return report_id


async def test_one_tenants_many_generations_are_bounded_and_spare_another(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    other = GraphQLClient(gql.http, await make_key("globex", "ingest,read,write"))
    mine, theirs = await asyncio.gather(_report(gql), _report(other))
    aliases = " ".join(f'g{i}: generateReport(id: "{mine}") {{ pdfBytes }}' for i in range(5))
    many, single = await asyncio.gather(
        gql.execute("{ " + aliases + " }"),
        other.execute(f'{{ generateReport(id: "{theirs}") {{ pdfBytes }} }}'),
    )
    codes = [e["extensions"]["code"] for e in many.get("errors", [])]
    assert codes == ["RATE_LIMITED", "RATE_LIMITED"], many.get("errors")
    done: list[Any] = [v for v in many["data"].values() if v is not None]
    assert len(done) == 3
    assert all(v["pdfBytes"] > 0 for v in done)
    assert "errors" not in single, single
    assert single["data"]["generateReport"]["pdfBytes"] > 0
