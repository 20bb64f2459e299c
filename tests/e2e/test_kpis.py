"""KPIs end to end: values, comparison, change, status and series against answers computed
here, in plain Python, from the ingested points and events; definitions with versions and
bad input; tenant isolation; the KPI dashboard widget; and a KPI alert that fires and
resolves in the real alerting engine.

Runs on the embedded stores, and on InfluxDB, Elasticsearch (osmem-server) and Redis with
`--backends production`. The gateway runs on an injected clock, so "now" is fixed.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.dataloaders.query_cache import SETTLED_MS
from analytics_gateway.services import Services
from tests.alerting.conftest import Clock, tick
from tests.conftest import GraphQLClient, MakeKey, backend_calls, open_ws, started

HOUR = 3_600_000
WEEK = 7 * 24 * HOUR
SPAN = 6 * HOUR

CREATE = """mutation($k: KpiInput!) {
  createKpi(input: $k) { id version name formula target direction aggregation comparison unit }
}"""
UPDATE = """mutation($id: ID!, $v: Int!, $k: KpiInput!) {
  updateKpi(id: $id, version: $v, input: $k) { id version name target }
}"""
DELETE = "mutation($id: ID!) { deleteKpi(id: $id) }"
LIST = "{ kpis { id name version } }"
READ = """query($id: ID!, $from: DateTime, $to: DateTime, $last: String) {
  kpi(id: $id, from: $from, to: $to, last: $last) {
    kpi { id name version } from to previousFrom previousTo
    value previous change status stepMs series
  }
}"""
DASHBOARD = """mutation($c: [WidgetInput!]!) {
  createCustomDashboard(name: "KPIs", components: $c) { id }
}"""
WIDGETS = """query($id: ID!, $from: DateTime, $to: DateTime) {
  dashboard(id: $id, from: $from, to: $to) {
    widgets { id query { kind kpiId }
      data { ... on KpiData { value previous change sparkline status target direction } } }
  }
}"""
UPDATES = """subscription($id: ID!) {
  dashboardUpdates(id: $id, timeRange: "1h") {
    widgets { widgetId data { ... on KpiData { value status } } }
  }
}"""
ALERT = "query($id: ID!) { alert(id: $id) { state condition labels } }"
KPI_ALERT = """mutation($kpi: ID!, $for: String!, $window: String!) {
  createKpiAlert(kpi: $kpi, for: $for, window: $window, severity: CRITICAL) {
    id name state condition labels
  }
}"""
RECORD = """mutation($events: [EventInput!]!) {
  recordEvents(events: $events) { accepted rejected { index message } }
}"""

Plain = dict[str, Any]


@pytest.fixture
def clock() -> Clock:
    """On the hour, every run: the moment a range ending at the last full hour has
    not settled yet (`settled_hour`), which once failed only in a test run's first
    minute past an hour."""
    on_the_hour = Clock()
    on_the_hour.now = on_the_hour.now // HOUR * HOUR
    return on_the_hour


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    async with started(create_app(settings, registry=CollectorRegistry(), clock=clock)) as a:
        yield a


def ms_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


async def data(gql: GraphQLClient, query: str, variables: Plain | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def error(gql: GraphQLClient, query: str, variables: Plain | None = None) -> Plain:
    body = await gql.execute(query, variables)
    assert body.get("errors"), body
    first: Plain = body["errors"][0]
    return first


async def ingest_points(gql: GraphQLClient, points: list[Plain]) -> None:
    for at in range(0, len(points), 500):
        response = await gql.http.post(
            "/analytics/metrics",
            json=points[at : at + 500],
            headers={"Authorization": f"Bearer {gql.key}"},
        )
        assert response.status_code == 200, response.text


async def record(gql: GraphQLClient, events: list[Plain]) -> None:
    for at in range(0, len(events), 200):
        chunk = events[at : at + 200]
        result = await data(gql, RECORD, {"events": chunk})
        assert result["recordEvents"] == {"accepted": len(chunk), "rejected": []}


def settled_hour(clock: Clock) -> int:
    """The latest hour that began `SETTLED_MS` or more ago: a range ending there has
    settled, and its answer is kept by the query cache (at 12:00:00 sharp, the range
    ending at 12:00 has not)."""
    return (clock.now - SETTLED_MS) // HOUR * HOUR


def kpi_input(**given: Any) -> Plain:
    return {"name": "Revenue per play", "formula": 'revenue / events("song_play")',
            "aggregation": "SUM", **given}  # fmt: skip


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


class World:
    """Generated points and events over the range, the period before it and a week back."""

    def __init__(self, seed: int, end: int) -> None:
        rng = random.Random(seed)
        self.end = end
        self.start = end - SPAN
        self.revenue: list[tuple[int, float]] = []  # two series (DE, FR), merged by KPIs
        self.points: list[Plain] = []
        self.latency: dict[str, list[tuple[int, float]]] = {"eu": [], "us": []}
        self.plays: list[int] = []
        self.events: list[Plain] = []
        for lo in (self.start - WEEK, self.start - SPAN, self.start):
            for _ in range(60):
                ts = lo + rng.randrange(SPAN)
                value = round(rng.uniform(0.5, 9.5), 2)
                country = rng.choice(["DE", "FR"])
                self.revenue.append((ts, value))
                self.points.append(
                    {
                        "name": "revenue",
                        "value": value,
                        "timestamp": ts,
                        "labels": {"country": country},
                    }
                )
            for region in ("eu", "us"):
                for _ in range(40):
                    ts = lo + rng.randrange(SPAN)
                    value = round(rng.uniform(50, 400), 1)
                    self.latency[region].append((ts, value))
                    self.points.append(
                        {
                            "name": "latency_ms",
                            "value": value,
                            "timestamp": ts,
                            "labels": {"region": region},
                        }
                    )
            for _ in range(rng.randint(40, 90)):
                ts = lo + rng.randrange(SPAN)
                self.plays.append(ts)
                self.events.append(
                    {"type": "song_play", "userId": f"u{rng.randrange(20)}", "timestamp": iso(ts)}
                )

    def revenue_per_play(self, lo: int, hi: int) -> float | None:
        revenue = [v for ts, v in self.revenue if lo <= ts < hi]
        plays = sum(1 for ts in self.plays if lo <= ts < hi)
        return sum(revenue) / plays if revenue and plays else None

    def eu_latency(self, lo: int, hi: int) -> float | None:
        values = [v for ts, v in self.latency["eu"] if lo <= ts < hi]
        return sum(values) / len(values) if values else None

    def revenue_per_play_series(self, step: int) -> list[tuple[int, float | None]]:
        revenue: dict[int, float] = defaultdict(float)
        seen: set[int] = set()
        plays: dict[int, int] = defaultdict(int)
        for ts, v in self.revenue:
            if self.start <= ts < self.end:
                revenue[ts // step * step] += v
                seen.add(ts // step * step)
        for ts in self.plays:
            if self.start <= ts < self.end:
                plays[ts // step * step] += 1
        out: list[tuple[int, float | None]] = []
        for bucket in range(self.start // step * step, self.end, step):
            has = bucket in seen and plays[bucket] > 0
            out.append((bucket, revenue[bucket] / plays[bucket] if has else None))
        return out


def change(value: float | None, previous: float | None) -> float | None:
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)


def close(found: float | None, wanted: float | None) -> bool:
    if wanted is None:
        return found is None
    return found == pytest.approx(wanted, rel=1e-9, abs=1e-9)


async def test_kpi_values_previous_change_status_and_series_match_plain_python(
    app: Starlette, gql: GraphQLClient, clock: Clock
) -> None:
    world = World(11, settled_hour(clock))
    await ingest_points(gql, world.points)
    await record(gql, world.events)
    wanted = world.revenue_per_play(world.start, world.end)
    before = world.revenue_per_play(world.start - SPAN, world.start)
    assert wanted is not None
    assert before is not None
    target = round((wanted + before) / 2, 6)  # between the two: one side is off target
    per_play = (await data(gql, CREATE, {"k": kpi_input(target=target, unit="CURRENCY")}))[
        "createKpi"
    ]
    assert (per_play["version"], per_play["direction"], per_play["unit"]) == (
        1,
        "HIGHER",
        "CURRENCY",
    )
    span = {"from": iso(world.start), "to": iso(world.end)}

    registry = services_of(app).metrics.registry
    points_before = backend_calls(registry, operation="query_points")
    counts_before = backend_calls(registry, operation="count_events")
    read = (await data(gql, READ, {"id": per_play["id"], **span}))["kpi"]
    # value, comparison and series of both inputs: one call per backend
    assert backend_calls(registry, operation="query_points") - points_before == 1
    assert backend_calls(registry, operation="count_events") - counts_before == 1
    assert close(read["value"], wanted)
    assert close(read["previous"], before)
    assert close(read["change"], change(wanted, before))
    assert read["status"] == ("ON_TARGET" if wanted >= target else "OFF_TARGET")
    assert ms_of(read["from"]) == ms_of(read["previousTo"]) == world.start
    assert ms_of(read["previousFrom"]) == world.start - SPAN
    series = list(zip(read["series"]["t"], read["series"]["v"], strict=True))
    expected = world.revenue_per_play_series(read["stepMs"])
    assert len(series) == len(expected) <= 121
    for (t, v), (et, ev) in zip(series, expected, strict=True):
        assert t == et
        assert close(v, ev), (t, v, ev)

    # the same read again: answered from the query cache (the range has ended)
    points_before = backend_calls(registry, operation="query_points")
    again = (await data(gql, READ, {"id": per_play["id"], **span}))["kpi"]
    assert again["value"] == read["value"]
    assert backend_calls(registry, operation="query_points") == points_before

    # lower is better, against the same period a week earlier, one label of a gauge
    eu = world.eu_latency(world.start, world.end)
    eu_week = world.eu_latency(world.start - WEEK, world.end - WEEK)
    assert eu is not None
    assert eu_week is not None
    latency = (
        await data(
            gql,
            CREATE,
            {
                "k": {
                    "name": "EU latency",
                    "formula": 'latency_ms{region="eu"}',
                    "aggregation": "AVG",
                    "direction": "LOWER",
                    "target": eu - 1,
                    "comparison": "PREVIOUS_WEEK",
                    "unit": "MS",
                }
            },
        )
    )["createKpi"]
    found = (await data(gql, READ, {"id": latency["id"], **span}))["kpi"]
    assert close(found["value"], eu)
    assert close(found["previous"], eu_week)
    assert close(found["change"], change(eu, eu_week))
    assert found["status"] == "OFF_TARGET"  # just above the target, and lower is better
    assert ms_of(found["previousFrom"]) == world.start - WEEK
    raised = {**kpi_input(), "name": "EU latency", "formula": 'latency_ms{region="eu"}',
              "aggregation": "AVG", "direction": "LOWER", "target": eu + 1}  # fmt: skip
    await data(gql, UPDATE, {"id": latency["id"], "v": 1, "k": raised})
    assert (await data(gql, READ, {"id": latency["id"], **span}))["kpi"]["status"] == "ON_TARGET"

    # `last` ends at the (injected) now; with nothing there, no data
    empty = (await data(gql, READ, {"id": per_play["id"], "last": "1m"}))["kpi"]
    assert (empty["value"], empty["status"]) == (None, "NO_DATA")
    no_target = (await data(gql, CREATE, {"k": kpi_input(name="No target")}))["createKpi"]
    found = (await data(gql, READ, {"id": no_target["id"], **span}))["kpi"]
    assert close(found["value"], wanted)
    assert found["status"] == "NO_TARGET"


@pytest.mark.parametrize(
    ("formula", "says"),
    [
        ("revenue +", "unexpected end"),
        ("avg(revenue[5m])", "no functions"),
        ("revenue[5m]", "no windows"),
        ('revenue{country=~"D.*"}', "'=' only"),
        ("revenue > 3", "formula computes a value"),
        ('sum("revenue")', "unknown function"),
        ("events(song_play)", "quoted event type"),
        ('events("a b")', "not a valid event type"),
        ("revenue_$country", "$variables"),
        ("", "empty"),
    ],
)
async def test_bad_formulas_are_refused_by_field(
    gql: GraphQLClient, formula: str, says: str
) -> None:
    found = await error(gql, CREATE, {"k": kpi_input(formula=formula)})
    assert found["extensions"]["code"] == "BAD_USER_INPUT"
    assert found["extensions"]["field"] == "formula"
    assert says in found["message"]
    assert (await data(gql, LIST))["kpis"] == []


async def test_definitions_are_versioned_and_checked(gql: GraphQLClient, make_key: MakeKey) -> None:
    created = (await data(gql, CREATE, {"k": kpi_input(target=1.0)}))["createKpi"]
    kpi_id = created["id"]
    renamed = kpi_input(name="Revenue per song play", target=2.0)
    updated = (await data(gql, UPDATE, {"id": kpi_id, "v": 1, "k": renamed}))["updateKpi"]
    assert (updated["version"], updated["name"], updated["target"]) == (
        2, "Revenue per song play", 2.0,
    )  # fmt: skip
    stale = await error(gql, UPDATE, {"id": kpi_id, "v": 1, "k": kpi_input()})
    assert stale["extensions"]["code"] == "CONFLICT"
    assert (await data(gql, LIST))["kpis"] == [
        {"id": kpi_id, "name": "Revenue per song play", "version": 2}
    ]

    for bad, field in [
        (kpi_input(name=""), "name"),
        (kpi_input(name="x" * 201), "name"),
        (kpi_input(description="x" * 1001), "description"),
        (kpi_input(labels={"bad key": "x"}), "labels"),
        (kpi_input(labels={"region": "$region"}), "labels"),
    ]:
        found = await error(gql, CREATE, {"k": bad})
        assert (found["extensions"]["code"], found["extensions"]["field"]) == (
            "BAD_USER_INPUT", field,
        ), bad  # fmt: skip
    unknown_direction = await gql.execute(CREATE, {"k": kpi_input(direction="SIDEWAYS")})
    assert "SIDEWAYS" in unknown_direction["errors"][0]["message"]

    # alerting on a KPI without a target says so
    no_target = (await data(gql, CREATE, {"k": kpi_input(name="Untargeted")}))["createKpi"]
    variables = {"kpi": no_target["id"], "for": "1h", "window": "1h"}
    found = await error(gql, KPI_ALERT, variables)
    assert (found["extensions"]["code"], found["extensions"]["field"]) == ("BAD_USER_INPUT", "kpi")
    assert "no target" in found["message"]
    # a KPI of event counts cannot be alerted on (conditions read metrics)
    variables["kpi"] = kpi_id
    found = await error(gql, KPI_ALERT, variables)
    assert "events" in found["message"]
    assert found["extensions"]["code"] == "BAD_USER_INPUT"

    reader = GraphQLClient(gql.http, await make_key("acme", "read"))
    found = await error(reader, CREATE, {"k": kpi_input()})
    assert found["extensions"]["code"] == "FORBIDDEN"
    assert (await data(reader, READ, {"id": kpi_id, "last": "1h"}))["kpi"]["kpi"]["id"] == kpi_id

    assert (await data(gql, DELETE, {"id": kpi_id}))["deleteKpi"] is True
    for query, variables in [
        (READ, {"id": kpi_id, "last": "1h"}),
        (DELETE, {"id": kpi_id}),
        (UPDATE, {"id": kpi_id, "v": 2, "k": kpi_input()}),
    ]:
        assert (await error(gql, query, variables))["extensions"]["code"] == "NOT_FOUND"


async def test_a_tenant_holds_a_bounded_number_of_kpis(gql: GraphQLClient) -> None:
    from analytics_gateway.kpis.checks import MAX_KPIS

    for n in range(MAX_KPIS):
        await data(gql, CREATE, {"k": kpi_input(name=f"k{n}")})
    found = await error(gql, CREATE, {"k": kpi_input(name="one too many")})
    assert found["extensions"]["code"] == "QUOTA_EXCEEDED"
    assert len((await data(gql, LIST))["kpis"]) == MAX_KPIS


async def test_other_tenants_cannot_read_change_alert_on_or_show_a_kpi(
    gql: GraphQLClient, make_key: MakeKey, clock: Clock
) -> None:
    world = World(5, settled_hour(clock))
    await ingest_points(gql, world.points)
    await record(gql, world.events)
    rival = GraphQLClient(gql.http, await make_key("rival", "ingest,read,write"))
    ours = (await data(gql, CREATE, {"k": kpi_input(target=1.0)}))["createKpi"]
    span = {"from": iso(world.start), "to": iso(world.end)}
    assert (await data(rival, LIST))["kpis"] == []
    for query, variables in [
        (READ, {"id": ours["id"], **span}),
        (UPDATE, {"id": ours["id"], "v": 1, "k": kpi_input(name="taken")}),
        (DELETE, {"id": ours["id"]}),
        (KPI_ALERT, {"kpi": ours["id"], "for": "1h", "window": "1h"}),
    ]:
        found = await error(rival, query, variables)
        assert found["extensions"]["code"] == "NOT_FOUND", query
    # the rival's widget naming our KPI shows no data of ours
    widget = [{"type": "KPI", "kpi": ours["id"]}]
    board = (await data(rival, DASHBOARD, {"c": widget}))["createCustomDashboard"]
    body = await rival.execute(WIDGETS, {"id": board["id"], **span})
    assert body["data"]["dashboard"]["widgets"][0]["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # ... nor does their own data under the same formula answer in our KPI
    mine = (await data(gql, READ, {"id": ours["id"], **span}))["kpi"]
    assert close(mine["value"], world.revenue_per_play(world.start, world.end))
    assert (await data(gql, LIST))["kpis"][0]["version"] == 1


async def test_the_kpi_widget_shows_a_saved_kpi(gql: GraphQLClient, clock: Clock) -> None:
    world = World(23, settled_hour(clock))
    await ingest_points(gql, world.points)
    await record(gql, world.events)
    wanted = world.revenue_per_play(world.start, world.end)
    before = world.revenue_per_play(world.start - SPAN, world.start)
    assert wanted is not None
    assert before is not None
    kpi = (await data(gql, CREATE, {"k": kpi_input(target=wanted + 1)}))["createKpi"]
    widgets = [
        {"type": "KPI", "kpi": kpi["id"]},
        {"type": "KPI", "formula": 'revenue / events("song_play")', "aggregation": "SUM"},
    ]
    board = (await data(gql, DASHBOARD, {"c": widgets}))["createCustomDashboard"]
    span = {"from": iso(world.start), "to": iso(world.end)}
    shown = (await data(gql, WIDGETS, {"id": board["id"], **span}))["dashboard"]["widgets"]
    assert shown[0]["query"] == {"kind": "KPI", "kpiId": kpi["id"]}
    saved = shown[0]["data"]
    assert close(saved["value"], wanted)
    assert close(saved["previous"], before)
    assert close(saved["change"], change(wanted, before))
    assert (saved["status"], saved["target"], saved["direction"]) == (
        "OFF_TARGET", wanted + 1, "HIGHER",
    )  # fmt: skip
    read = (await data(gql, READ, {"id": kpi["id"], **span}))["kpi"]
    known = [
        (t, v)
        for t, v in zip(read["series"]["t"], read["series"]["v"], strict=True)
        if v is not None
    ]
    assert list(zip(saved["sparkline"]["t"], saved["sparkline"]["v"], strict=True)) == known
    assert len(known) > 10
    # the REST form of the same dashboard says the same
    response = await gql.http.get(
        f"/analytics/dashboards/{board['id']}",
        params=span,
        headers={"Authorization": f"Bearer {gql.key}"},
    )
    assert response.status_code == 200, response.text
    rest = response.json()["widgets"][0]
    assert rest["query"]["kpiId"] == kpi["id"]
    assert (rest["data"]["value"], rest["data"]["status"]) == (saved["value"], "off_target")
    # a formula widget with an event count: totals over the range, as the KPI
    formula = shown[1]["data"]
    assert close(formula["value"], wanted)
    assert formula["status"] is None


async def test_a_kpi_widget_is_live_on_its_kpis_metrics(
    base: str, gql: GraphQLClient, clock: Clock
) -> None:
    assert gql.key is not None
    await ingest_points(gql, [{"name": "orders", "value": 3.0, "timestamp": clock.now - 60_000}])
    kpi = (
        await data(
            gql, CREATE, {"k": {"name": "Orders", "formula": "orders", "aggregation": "SUM",
                                "target": 5.0}},
        )
    )["createKpi"]  # fmt: skip
    board = (await data(gql, DASHBOARD, {"c": [{"type": "KPI", "kpi": kpi["id"]}]}))[
        "createCustomDashboard"
    ]
    ws = await open_ws(base, gql.key)
    try:
        await ws.subscribe(UPDATES, {"id": board["id"]})
        # until the subscription listens, a point may go unseen: post until one is seen
        seen: list[float] = [3.0]
        update: Plain = {}
        for n in range(50):
            seen.append(1.0 + n)
            point = {"name": "orders", "value": seen[-1], "timestamp": clock.now - 1000 - n}
            await ingest_points(gql, [point])
            try:
                update = (await ws.next_data(timeout=1))["payload"]["data"]
            except TimeoutError:
                continue
            break
        widget = update["dashboardUpdates"]["widgets"][0]
        assert widget["widgetId"] == "w1"
        # the points stored when it rendered: all of them, or all but the last on a slow run
        totals = [sum(seen[:i]) for i in range(2, len(seen) + 1)]
        value = widget["data"]["value"]
        assert any(close(value, total) for total in totals), (value, totals)
        assert widget["data"]["status"] == ("ON_TARGET" if value >= 5.0 else "OFF_TARGET")
    finally:
        await ws.close()


async def test_a_kpi_alert_fires_off_target_and_resolves(
    app: Starlette, gql: GraphQLClient, clock: Clock
) -> None:
    points = [
        {"name": "signups", "value": 5.0, "timestamp": clock.now - 30 * 60_000},
        {"name": "visits", "value": 100.0, "timestamp": clock.now - 30 * 60_000},
    ]
    await ingest_points(gql, points)
    kpi = (
        await data(
            gql,
            CREATE,
            {
                "k": {
                    "name": "Signup rate (web)",
                    "formula": "signups / visits",
                    "aggregation": "SUM",
                    "target": 0.1,
                }
            },
        )
    )["createKpi"]
    reading = (await data(gql, READ, {"id": kpi["id"], "last": "1h"}))["kpi"]
    assert (reading["value"], reading["status"]) == (0.05, "OFF_TARGET")
    variables = {"kpi": kpi["id"], "for": "10m", "window": "1h"}
    rule = (await data(gql, KPI_ALERT, variables))["createKpiAlert"]
    assert rule["labels"]["kpi"] == kpi["id"]
    assert rule["name"] == "Signup rate web off target"

    async def state() -> str:
        found: str = (await data(gql, ALERT, {"id": rule["id"]}))["alert"]["state"]
        return found

    await tick(app)
    assert await state() == "PENDING"
    clock.advance(5 * 60)
    await tick(app)
    assert await state() == "PENDING"  # off target for 5 of the 10 minutes
    clock.advance(6 * 60)
    await tick(app)
    assert await state() == "FIRING"

    await ingest_points(gql, [{"name": "signups", "value": 20.0, "timestamp": clock.now - 1000}])
    clock.advance(60)
    reading = (await data(gql, READ, {"id": kpi["id"], "last": "1h"}))["kpi"]
    assert (reading["value"], reading["status"]) == (0.25, "ON_TARGET")
    await tick(app)
    assert await state() == "RESOLVED"

    # once the window has moved past every point, the rule has no data: not firing
    clock.advance(2 * 3600)
    await tick(app)
    assert await state() != "FIRING"


def test_a_kpi_alert_condition_reads_back_in_the_alert_language() -> None:
    """The condition a KPI alert holds reads back as the alert language parses it."""
    from analytics_gateway.alerting.expr import parse_condition
    from analytics_gateway.domain import Aggregation
    from analytics_gateway.kpis.alerts import condition_of
    from analytics_gateway.kpis.model import Direction, KpiDefinition

    definition = KpiDefinition(
        id="k1", name="Churn", formula='-(churned{plan="pro"} - 1) / (users * 2)', unit=None,
        target=-0.5, direction=Direction.LOWER, aggregation=Aggregation.P95,
        labels={"region": 'e"u'},
    )  # fmt: skip
    condition = parse_condition(condition_of(definition, "30m"))
    selectors = condition.selectors()
    assert {(s.metric, s.function, s.window_ms) for s in selectors} == {
        ("churned", Aggregation.P95, 1_800_000),
        ("users", Aggregation.P95, 1_800_000),
    }
    labels = {s.metric: {(m.label, m.value) for m in s.matchers} for s in selectors}
    assert labels == {"churned": {("plan", "pro"), ("region", 'e"u')},
                      "users": {("region", 'e"u')}}  # fmt: skip
