"""The REST routes of KPIs, reports, sessions, new users, paths, segments, churn risk and
user features answer exactly as their GraphQL fields do on generated data (and as the
answers computed here in plain Python); refuse bad input with the GraphQL codes and
fields; keep to the caller's tenant; need the read scope to read and the write scope to
change; and save with versions (CONFLICT on a stale one).

Runs on the embedded stores, and on InfluxDB/Elasticsearch/Redis with
`--backends production`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from analytics_gateway.config import Settings
from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, backend_calls, make_settings
from tests.e2e import test_kpis as kpis
from tests.e2e import test_reports as reports
from tests.e2e import test_segments_churn as segments
from tests.e2e import test_sessions_paths as journeys

Plain = dict[str, Any]
HOUR = 3_600_000
DAY = 86_400_000

KPI_FIELDS = (
    "id version name description formula aggregation unit target direction comparison "
    "labels updatedAt"
)
KPI_LIST = f"{{ kpis {{ {KPI_FIELDS} }} }}"
KPI_READ = f"""query($id: ID!, $from: DateTime, $to: DateTime, $last: String) {{
  kpi(id: $id, from: $from, to: $to, last: $last) {{
    kpi {{ {KPI_FIELDS} }} from to previousFrom previousTo
    value previous change status stepMs series
  }}
}}"""
KPI_ALERT = """mutation($kpi: ID!, $for: String!, $window: String!, $name: String,
                     $channels: [String!]) {
  createKpiAlert(kpi: $kpi, for: $for, window: $window, severity: CRITICAL, name: $name,
                 channels: $channels) {
    id name condition kind severity for keepFiringFor interval channels actions labels
    annotations enabled groupBy groupWait groupInterval repeatInterval version createdAt
    updatedAt createdBy state instances { labels state value since }
  }
}"""
REPORT_FIELDS = (
    "id version name kpis panels { metric labels aggregation groupBy title } period "
    "schedule timeZone recipients nextRunAt createdAt updatedAt"
)
REPORT_READ = f"query($id: ID!) {{ report(id: $id) {{ {REPORT_FIELDS} }} }}"
REPORT_LIST = f"{{ reports {{ {REPORT_FIELDS} }} }}"
GENERATE = """query($id: ID!, $from: DateTime, $to: DateTime) {
  generateReport(id: $id, from: $from, to: $to) {
    reportId name from to previousFrom previousTo periodText
    kpis { id name unit value previous change target status }
    insights { kind subject sentence figures }
    html pdfBytes
  }
}"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Requests may wait for the ML pool's first start, slow on a busy machine."""
    return make_settings(tmp_path / "data", request_timeout_seconds=120.0)


@pytest.fixture
async def ml_ready(app: Starlette) -> None:
    """The ML workers are up before the first request that needs them."""
    async with asyncio.timeout(300):
        await asyncio.to_thread(services_of(app).ml.workers.prestart)


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


class Rest:
    """The REST routes with one key."""

    def __init__(self, http: httpx.AsyncClient, key: str | None) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        given = {k: v for k, v in params.items() if v is not None}
        return await self.http.get(path, params=given, headers=self.headers)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers)

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.http.put(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(path, headers=self.headers)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def data(gql: GraphQLClient, query: str, variables: Plain | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    if field is not None:
        assert error["extensions"]["field"] == field, error
    assert "Traceback" not in response.text


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


# -- KPIs ------------------------------------------------------------------------------


async def test_kpi_routes_answer_as_graphql_and_round_trip_with_versions(
    app: Starlette, client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey
) -> None:
    world = kpis.World(11, (int(time.time() * 1000) // HOUR - 1) * HOUR)
    await kpis.ingest_points(gql, world.points)
    await kpis.record(gql, world.events)
    wanted = world.revenue_per_play(world.start, world.end)
    before = world.revenue_per_play(world.start - kpis.SPAN, world.start)
    assert wanted is not None
    assert before is not None
    rest = Rest(client, gql.key)

    body = kpis.kpi_input(target=round(wanted, 6), unit="currency", description="per play")
    made = ok(await rest.post("/analytics/kpis", body), 201)
    assert (made["version"], made["unit"], made["direction"]) == (1, "CURRENCY", "HIGHER")
    latency = ok(
        await rest.post(
            "/analytics/kpis",
            {
                "name": "EU latency",
                "formula": "latency_ms",
                "aggregation": "AVG",
                "direction": "LOWER",
                "target": 200,
                "labels": {"region": "eu"},
                "comparison": "PREVIOUS_WEEK",
            },
        ),
        201,
    )
    listed = ok(await rest.get("/analytics/kpis"))
    assert listed["kpis"] == (await data(gql, KPI_LIST))["kpis"]
    assert {k["id"] for k in listed["kpis"]} == {made["id"], latency["id"]}
    assert made in listed["kpis"]

    span = {"from": kpis.iso(world.start), "to": kpis.iso(world.end)}
    registry = services_of(app).metrics.registry
    for kpi in (made, latency):
        want = (await data(gql, KPI_READ, {"id": kpi["id"], **span}))["kpi"]
        points = backend_calls(registry, operation="query_points")
        got = ok(await rest.get(f"/analytics/kpis/{kpi['id']}", **span))
        # the range has ended: the route reads through the same query cache
        assert backend_calls(registry, operation="query_points") == points
        assert got == want
    got = ok(await rest.get(f"/analytics/kpis/{made['id']}", **span))
    assert kpis.close(got["value"], wanted)
    assert kpis.close(got["previous"], before)
    assert got["status"] == "ON_TARGET"
    assert len(got["series"]["t"]) == len(world.revenue_per_play_series(got["stepMs"]))
    eu = ok(await rest.get(f"/analytics/kpis/{latency['id']}", **span))
    assert kpis.close(eu["value"], world.eu_latency(world.start, world.end))
    assert kpis.close(
        eu["previous"], world.eu_latency(world.start - kpis.WEEK, world.end - kpis.WEEK)
    )
    recent = ok(await rest.get(f"/analytics/kpis/{made['id']}", last="6h"))
    assert recent["kpi"]["id"] == made["id"]

    # a save at the version read, then one at the stale version
    change = {**body, "target": 1.5, "version": made["version"]}
    saved = ok(await rest.put(f"/analytics/kpis/{made['id']}", change))
    assert (saved["version"], saved["target"]) == (2, 1.5)
    refused(await rest.put(f"/analytics/kpis/{made['id']}", change), 409, "CONFLICT")
    refused(
        await rest.put(f"/analytics/kpis/{made['id']}", {**body}), 400, "BAD_USER_INPUT", "version"
    )
    assert (await data(gql, KPI_READ, {"id": made["id"], **span}))["kpi"]["kpi"] == saved

    # KPI alerts: the same rule as createKpiAlert makes
    rule = ok(
        await rest.post(
            f"/analytics/kpis/{latency['id']}/alert",
            {"for": "5m", "window": "30m", "severity": "CRITICAL", "name": "EU latency A"},
        ),
        201,
    )
    variables = {"kpi": latency["id"], "for": "5m", "window": "30m", "name": "EU latency B"}
    twin = (await data(gql, KPI_ALERT, variables))["createKpiAlert"]
    differ = {"id", "name", "createdAt", "updatedAt"}
    assert {k: v for k, v in rule.items() if k not in differ} == {
        k: v for k, v in twin.items() if k not in differ
    }
    assert rule["labels"] == {"kpi": latency["id"]}
    assert rule["condition"].endswith("> 200.0")
    alerts = ok(await rest.get("/analytics/alerts"))["alerts"]
    assert rule["id"] in {a["id"] for a in alerts}
    refused(
        await rest.post(f"/analytics/kpis/{made['id']}/alert", {}), 400, "BAD_USER_INPUT", "kpi"
    )

    # another tenant sees nothing and changes nothing
    other = Rest(client, await make_key("beta", "read,write"))
    assert ok(await other.get("/analytics/kpis")) == {"kpis": []}
    refused(await other.get(f"/analytics/kpis/{made['id']}", **span), 404, "NOT_FOUND")
    refused(
        await other.put(f"/analytics/kpis/{made['id']}", {**body, "version": 2}), 404, "NOT_FOUND"
    )
    refused(await other.delete(f"/analytics/kpis/{made['id']}"), 404, "NOT_FOUND")
    refused(await other.post(f"/analytics/kpis/{latency['id']}/alert", {}), 404, "NOT_FOUND")

    deleted = await rest.delete(f"/analytics/kpis/{made['id']}")
    assert deleted.status_code == 204, deleted.text
    refused(await rest.get(f"/analytics/kpis/{made['id']}"), 404, "NOT_FOUND")
    refused(await rest.delete(f"/analytics/kpis/{made['id']}"), 404, "NOT_FOUND")
    assert [k["id"] for k in ok(await rest.get("/analytics/kpis"))["kpis"]] == [latency["id"]]


async def test_kpi_bad_input_is_refused_with_the_field(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    rest = Rest(client, gql.key)
    good = kpis.kpi_input()
    for change, field in (
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"formula": 3}, "formula"),
        ({"formula": "revenue +"}, "formula"),
        ({"aggregation": "MEDIAN"}, "aggregation"),
        ({"aggregation": None}, "aggregation"),
        ({"direction": "SIDEWAYS"}, "direction"),
        ({"unit": "furlongs"}, "unit"),
        ({"target": "high"}, "target"),
        ({"labels": ["region"]}, "labels"),
        ({"comparison": "LAST_YEAR"}, "comparison"),
    ):
        refused(
            await rest.post("/analytics/kpis", {**good, **change}), 400, "BAD_USER_INPUT", field
        )
    refused(await rest.post("/analytics/kpis", {**good, "input": good}), 400, "BAD_USER_INPUT")
    refused(await rest.post("/analytics/kpis", [good]), 400, "BAD_USER_INPUT")
    assert ok(await rest.get("/analytics/kpis")) == {"kpis": []}
    made = ok(await rest.post("/analytics/kpis", good), 201)
    path = f"/analytics/kpis/{made['id']}"
    refused(await rest.get(path, last="soon"), 400, "BAD_USER_INPUT", "last")
    refused(await rest.get(path, to="yesterday"), 400, "BAD_USER_INPUT", "to")
    wide = {"from": "2020-01-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"}
    refused(await rest.get(path, **wide), 400, "BAD_USER_INPUT", "from")
    refused(await rest.get("/analytics/kpis/nothing"), 404, "NOT_FOUND")
    refused(await rest.put(path, {**good, "version": "one"}), 400, "BAD_USER_INPUT", "version")
    latency = ok(
        await rest.post(
            "/analytics/kpis",
            {"name": "p95", "formula": "latency_ms", "aggregation": "P95", "target": 1},
        ),
        201,
    )
    alert = f"/analytics/kpis/{latency['id']}/alert"
    refused(await rest.post(alert, {"severity": "LOUD"}), 400, "BAD_USER_INPUT", "severity")
    refused(await rest.post(alert, {"channels": "ops"}), 400, "BAD_USER_INPUT", "channels")
    refused(await rest.post(alert, {"window": 5}), 400, "BAD_USER_INPUT", "window")


# -- reports ---------------------------------------------------------------------------


async def test_report_routes_answer_as_graphql_and_round_trip_with_versions(
    client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey, ml_ready: None
) -> None:
    planted = reports.Planted(reports.last_monday_8am())
    await reports.ingest(gql, planted.points)
    rest = Rest(client, gql.key)
    revenue = ok(
        await rest.post(
            "/analytics/kpis",
            {"name": "Weekly revenue", "formula": "revenue", "aggregation": "SUM",
             "target": 10_000},
        ),
        201,
    )  # fmt: skip
    body: Plain = {
        "name": "Weekly business",
        "kpis": [revenue["id"]],
        "panels": [
            {"metric": "plays", "aggregation": "SUM", "groupBy": ["country"], "title": "Plays"},
            {"metric": "latency_ms", "aggregation": "avg"},
        ],
        "period": "WEEK",
        "schedule": "every Monday 08:00 Europe/Paris",
    }
    made = ok(await rest.post("/analytics/reports", body), 201)
    assert (made["version"], made["timeZone"]) == (1, "Europe/Paris")
    assert made == (await data(gql, REPORT_READ, {"id": made["id"]}))["report"]
    assert ok(await rest.get(f"/analytics/reports/{made['id']}")) == made
    listed = ok(await rest.get("/analytics/reports"))
    assert listed["reports"] == (await data(gql, REPORT_LIST))["reports"] == [made]

    span = {"from": iso(planted.week_start), "to": iso(planted.week_end)}
    path = f"/analytics/reports/{made['id']}"
    got = ok(await rest.post(f"{path}/generate", span))
    want = (await data(gql, GENERATE, {"id": made["id"], **span}))["generateReport"]
    assert got == want
    assert (got["from"], got["to"]) == (iso(planted.week_start), iso(planted.week_end))
    [kpi] = got["kpis"]
    assert kpi["value"] == pytest.approx(planted.total("revenue", planted.week_start,
                                                       planted.week_end))  # fmt: skip
    assert kpi["status"] == "OFF_TARGET"
    [mover] = [i for i in got["insights"] if i["kind"] == "MOVER" and i["subject"] == "Plays"]
    assert mover["figures"]["drivers"][0]["value"] == "DE"
    assert got["html"].startswith("<!DOCTYPE html>")
    # the query string works as the body does; the PDF stays at its own route
    assert ok(await client.post(f"{path}/generate", params=span, headers=rest.headers)) == got
    pdf = await rest.get(f"{path}/pdf", **span)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")

    change = {**body, "name": "Weekly business (EU)", "version": made["version"]}
    saved = ok(await rest.put(path, change))
    assert (saved["version"], saved["name"]) == (2, "Weekly business (EU)")
    assert saved == (await data(gql, REPORT_READ, {"id": made["id"]}))["report"]
    refused(await rest.put(path, change), 409, "CONFLICT")

    # another tenant sees nothing and changes nothing
    other = Rest(client, await make_key("beta", "read,write"))
    assert ok(await other.get("/analytics/reports")) == {"reports": []}
    refused(await other.get(path), 404, "NOT_FOUND")
    refused(await other.post(f"{path}/generate", span), 404, "NOT_FOUND")
    # (its own KPIs are checked first: the report names none of them)
    mine = {**change, "kpis": [], "version": 2}
    refused(await other.put(path, mine), 404, "NOT_FOUND")
    refused(await other.put(path, {**change, "version": 2}), 400, "BAD_USER_INPUT", "kpis")
    refused(await other.delete(path), 404, "NOT_FOUND")

    deleted = await rest.delete(path)
    assert deleted.status_code == 204, deleted.text
    refused(await rest.get(path), 404, "NOT_FOUND")
    refused(await rest.post(f"{path}/generate", span), 404, "NOT_FOUND")
    assert ok(await rest.get("/analytics/reports")) == {"reports": []}


async def test_report_bad_input_is_refused_with_the_field(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    rest = Rest(client, gql.key)
    good: Plain = {"name": "Daily", "panels": [{"metric": "plays"}], "period": "DAY"}
    for change, field in (
        ({"name": None}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"panels": []}, "panels"),
        ({"panels": [{"metric": "no such metric!"}]}, "panels"),
        ({"panels": [{"metric": "plays", "aggregation": "MEDIAN"}]}, "panels"),
        ({"panels": [{"metric": "plays", "groupBy": "country"}]}, "panels"),
        ({"panels": "plays"}, "panels"),
        ({"period": "YEAR"}, "period"),
        ({"kpis": ["nope"]}, "kpis"),
        ({"schedule": "now and then"}, "schedule"),
        ({"recipients": ["x"]}, "recipients"),
    ):
        refused(
            await rest.post("/analytics/reports", {**good, **change}),
            400,
            "BAD_USER_INPUT",
            field,
        )
    assert ok(await rest.get("/analytics/reports")) == {"reports": []}
    made = ok(await rest.post("/analytics/reports", good), 201)
    path = f"/analytics/reports/{made['id']}"
    refused(await rest.put(path, good), 400, "BAD_USER_INPUT", "version")
    generate = f"{path}/generate"
    refused(
        await rest.post(generate, {"from": "2026-01-01T00:00:00Z"}), 400, "BAD_USER_INPUT", "to"
    )
    both = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "period": "LAST"}
    refused(await rest.post(generate, both), 400, "BAD_USER_INPUT", "period")
    refused(await rest.post(generate, {"period": "NEXT"}), 400, "BAD_USER_INPUT", "period")
    long = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    refused(await rest.post(generate, long), 400, "BAD_USER_INPUT", "from")
    refused(await rest.post(generate, {"to": "soon"}), 400, "BAD_USER_INPUT", "to")
    refused(await rest.post("/analytics/reports/nothing/generate"), 404, "NOT_FOUND")


# -- sessions, new users, next events ---------------------------------------------------


async def test_journey_routes_answer_as_graphql_and_plain_python(
    app: Starlette, client: httpx.AsyncClient, gql: GraphQLClient, make_key: MakeKey
) -> None:
    today = datetime.now(UTC).date()
    day0 = journeys.midnight_ms(today - timedelta(days=12))
    start, end = day0 + 6 * HOUR, day0 + 9 * DAY
    events = journeys.generate("u", 7, day0)
    await journeys.record(gql, events)
    span = {"from": journeys.iso(start), "to": journeys.iso(end)}
    rest = Rest(client, gql.key)

    for kind, gap, gap_ms, interval in (
        (None, "30m", 30 * 60_000, "DAY"),
        ("song_play", "5m", 5 * 60_000, "WEEK"),
    ):
        variables: Plain = {"type": kind, "gap": gap, "interval": interval, **span}
        want = (await data(gql, journeys.SESSIONS, variables))["sessions"]
        before = journeys.reads(app)
        got = ok(
            await rest.get(
                "/analytics/behaviour/sessions",
                eventType=kind,
                gap=gap,
                interval=interval.lower(),
                **span,
            )
        )
        assert journeys.reads(app) == before  # the behaviour cache answered
        assert got == want
        journeys.check_sessions(
            got, journeys.expected_sessions(events, kind, gap_ms, start, end, interval)
        )
    default = ok(await rest.get("/analytics/behaviour/sessions", **span))
    assert (default["interval"], default["gapSeconds"]) == ("DAY", 1800.0)

    for interval in ("DAY", "WEEK"):
        want = (await data(gql, journeys.NEW, {"interval": interval, **span}))["newUsers"]
        got = ok(await rest.get("/analytics/behaviour/new-users", interval=interval, **span))
        assert got == want
        found = [{**b, "start": journeys.ms_of(b["start"])} for b in got["buckets"]]
        assert found == journeys.expected_new(events, start, end, interval)
        assert sum(b["new"] for b in found) > 0

    for after, within, within_ms, first in (("search", "30m", 30 * 60_000, 10),
                                            ("song_play", "5m", 5 * 60_000, 2)):  # fmt: skip
        variables = {"after": after, "first": first, "within": within, **span}
        want = (await data(gql, journeys.NEXT, variables))["nextEvents"]
        got = ok(await rest.get("/analytics/behaviour/next-events", **variables))
        assert got["events"] == want
        expected = journeys.expected_next(events, after, within_ms, start, end, first)
        assert [(e["eventType"], e["transitions"], e["users"]) for e in got["events"]] == [
            (e["eventType"], e["transitions"], e["users"]) for e in expected
        ]

    # another tenant has none of these users
    other = Rest(client, await make_key("beta", "read"))
    assert ok(await other.get("/analytics/behaviour/sessions", **span))["count"] == 0
    theirs = ok(await other.get("/analytics/behaviour/new-users", interval="DAY", **span))
    assert all(b["total"] == 0 for b in theirs["buckets"])
    nothing = await other.get("/analytics/behaviour/next-events", after="search", **span)
    assert ok(nothing) == {"events": []}


# -- user features, segments and churn risk ---------------------------------------------


async def test_feature_segment_and_churn_routes_answer_as_graphql(
    app: Starlette,
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    make_key: MakeKey,
    ml_ready: None,
) -> None:
    base = segments.day_start_ago(105)
    end = base + 90 * DAY
    events = segments.churn_events(base, users=300, seed=5)
    await segments.record(gql, events)
    window = {"from": segments.iso(base), "to": segments.iso(end)}
    rest = Rest(client, gql.key)

    for first, after in ((1000, None), (7, "c0100")):
        variables = {"type": None, "first": first, "after": after, **window}
        want = (await data(gql, segments.FEATURES, variables))["userFeatures"]
        got = ok(
            await rest.get("/analytics/behaviour/user-features", first=first, after=after, **window)
        )
        assert got["users"] == want
    everyone = ok(await rest.get("/analytics/behaviour/user-features", first=1000, **window))
    expected = segments.expected_features(events, None, base, end)
    assert len(everyone["users"]) == len(expected) > 100
    assert [u["userId"] for u in everyone["users"]] == [w["userId"] for w in expected]
    for found, wanted in zip(everyone["users"], expected, strict=True):
        assert found == pytest.approx(wanted)

    for k in (None, 3):
        variables = {"segments": k, "examples": 4, **window}
        want = (await data(gql, segments.SEGMENTS, variables))["userSegments"]
        got = ok(await rest.get("/analytics/behaviour/segments", segments=k, examples=4, **window))
        assert got == want
        assert sum(s["size"] for s in got["segments"]) == len(expected)
        if k is not None:
            assert got["k"] == k

    variables = {"horizon": "14d", "first": 20, **window}
    want = (await data(gql, segments.CHURN, variables))["churnRisk"]
    got = ok(await rest.get("/analytics/behaviour/churn-risk", horizon="14d", first=20, **window))
    assert got == want
    assert len(got["users"]) == 20
    scored = {
        w["userId"]: w for w in segments.expected_features(events, None, base + 14 * DAY, end)
    }
    assert got["scoredUsers"] == len(scored)
    for user in got["users"]:
        assert user["features"] == pytest.approx(scored[user["userId"]])

    # another tenant has no users: nothing to list, segment or train on
    other = Rest(client, await make_key("beta", "read"))
    assert ok(await other.get("/analytics/behaviour/user-features", **window)) == {"users": []}
    refused(await other.get("/analytics/behaviour/segments", **window), 400, "BAD_USER_INPUT")
    refused(await other.get("/analytics/behaviour/churn-risk", **window), 400, "BAD_USER_INPUT")


async def test_behaviour_bad_input_is_refused_with_the_graphql_codes(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    rest = Rest(client, gql.key)
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    wide = {"from": "1990-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    for path, params, status, code, field in (
        ("sessions", {"gap": "10s"}, 400, "BAD_USER_INPUT", "gap"),
        ("sessions", {"interval": "YEAR"}, 400, "BAD_USER_INPUT", "interval"),
        ("sessions", {"last": "soon"}, 400, "BAD_USER_INPUT", "last"),
        ("sessions", {"eventType": "not a type!"}, 400, "BAD_USER_INPUT", "eventType"),
        ("sessions", wide, 400, "QUERY_TOO_COMPLEX", "from"),
        ("new-users", {}, 400, "BAD_USER_INPUT", "interval"),
        ("new-users", {"interval": "DAY", "to": "later"}, 400, "BAD_USER_INPUT", "to"),
        ("next-events", {}, 400, "BAD_USER_INPUT", "after"),
        ("next-events", {"after": "search", "first": "0"}, 400, "BAD_USER_INPUT", "first"),
        ("next-events", {"after": "search", "first": "x"}, 400, "BAD_USER_INPUT", "first"),
        ("next-events", {"after": "search", "within": "2d"}, 400, "BAD_USER_INPUT", "within"),
        ("user-features", {"first": "1001"}, 400, "BAD_USER_INPUT", "first"),
        ("user-features", {"first": "0", **window}, 400, "BAD_USER_INPUT", "first"),
        ("segments", {"segments": "1", **window}, 400, "BAD_USER_INPUT", "segments"),
        ("segments", {"examples": "21", **window}, 400, "BAD_USER_INPUT", "examples"),
        ("churn-risk", {"horizon": "1h", **window}, 400, "BAD_USER_INPUT", "horizon"),
        ("churn-risk", {"first": "0", **window}, 400, "BAD_USER_INPUT", "first"),
    ):
        response = await rest.get(f"/analytics/behaviour/{path}", **params)
        refused(response, status, code, field)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/analytics/kpis", None),
        ("GET", "/analytics/kpis/x", None),
        ("GET", "/analytics/reports", None),
        ("GET", "/analytics/reports/x", None),
        ("POST", "/analytics/reports/x/generate", {}),
        ("GET", "/analytics/behaviour/sessions", None),
        ("GET", "/analytics/behaviour/new-users", None),
        ("GET", "/analytics/behaviour/next-events", None),
        ("GET", "/analytics/behaviour/segments", None),
        ("GET", "/analytics/behaviour/churn-risk", None),
        ("GET", "/analytics/behaviour/user-features", None),
        ("POST", "/analytics/kpis", {}),
        ("PUT", "/analytics/kpis/x", {}),
        ("DELETE", "/analytics/kpis/x", None),
        ("POST", "/analytics/kpis/x/alert", {}),
        ("POST", "/analytics/reports", {}),
        ("PUT", "/analytics/reports/x", {}),
        ("DELETE", "/analytics/reports/x", None),
    ],
)
async def test_reads_need_the_read_scope_and_changes_the_write_scope(
    client: httpx.AsyncClient, make_key: MakeKey, method: str, path: str, body: Plain | None
) -> None:
    writes = method != "GET" and not path.endswith("/generate")
    refusing = [
        (None, 401, "UNAUTHENTICATED"),
        (await make_key("acme", "ingest"), 403, "FORBIDDEN"),
    ]
    if writes:  # a key that may read may not change anything
        refusing.append((await make_key("acme", "ingest,read"), 403, "FORBIDDEN"))
    for key, status, code in refusing:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await client.request(method, path, json=body, headers=headers)
        refused(response, status, code)
