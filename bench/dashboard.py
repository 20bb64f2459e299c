"""Benchmark: one 12-widget dashboard request against the widgets' own queries, one by one.

The gateway runs as users start it, `analytics-gateway serve --demo` (a week of
demo data, live points every second), in its own process; this process is the
client. A dashboard of 12 widgets (KPIs with a previous-period comparison and a
formula, charts, heatmaps, tables; metric and event queries) is created, then:

- gateway: `dashboard(id) { widgets { data { ... } } }`, ONE request: the
  dataloaders turn every widget into one store call per backend;
- baseline: for each widget, the request a client without dashboards would send
  for the same data (`metrics` / `eventCounts` fields over the same ranges,
  steps and aggregations), one after another; the figure is their summed time.

Both sides run in the same rounds, in alternating order, over one keep-alive
connection each. The ratio of medians has the target (<= 0.5).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from analytics_gateway.dashboards import planner
from analytics_gateway.dashboards.model import DashboardSpec
from analytics_gateway.domain import EventCountQuery, MetricQuery
from analytics_gateway.ingest import now_ms
from bench.common import (
    Comparison,
    CpuMeter,
    ServerProcess,
    clean_env,
    free_port,
    percentile,
    python_argv,
    say,
    section,
)

TWELVE: list[dict[str, Any]] = [
    {"type": "KPI", "data": "active_users"},
    {"type": "KPI", "data": "revenue"},
    {"type": "KPI", "data": "revenue_per_user"},
    {"type": "KPI", "events": {"type": "song_play"}},
    {"type": "CHART", "data": "song_plays", "style": "AREA"},
    {"type": "CHART", "data": "cpu_usage"},
    {"type": "CHART", "data": "request_latency"},
    {"type": "CHART", "data": "daily_revenue"},
    {"type": "HEATMAP", "data": "user_activity"},
    {"type": "HEATMAP", "data": "song_plays"},
    {"type": "TABLE", "data": "cpu_usage"},
    {"type": "TABLE", "data": "error_rate"},
]

CREATE = """mutation($components: [WidgetInput!]!) {
  createCustomDashboard(name: "Bench: twelve widgets", components: $components) { id }
}"""

DASHBOARD = """query($id: ID!) { dashboard(id: $id) { widgets { id data {
  __typename
  ... on ChartData { series { labels data } }
  ... on KpiData { value previous change sparkline }
  ... on HeatmapData { rowLabels timestamps values }
  ... on TableData { rows { labels summary { count min max avg last } } }
} } } }"""


@dataclass(frozen=True)
class DashboardOptions:
    rounds: int = 60
    warmup: int = 5


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _metric_field(alias: str, q: MetricQuery) -> str:
    labels = ", ".join(f"{k}: {orjson.dumps(v).decode()}" for k, v in q.labels)
    agg = f", aggregation: {q.aggregation.name}" if q.aggregation else ""
    group = (
        f", groupBy: {orjson.dumps(list(q.group_by)).decode()}" if q.group_by is not None else ""
    )
    return (
        f'{alias}: metrics(query: {{name: "{q.name}", labels: {{{labels}}}, '
        f'from: "{_iso(q.start_ms)}", to: "{_iso(q.end_ms)}", step: "{q.step_ms}ms"'
        f"{agg}{group}}}) {{ labels data }}"
    )


def _events_field(alias: str, q: EventCountQuery) -> str:
    group = f', groupBy: "{q.group_by}"' if q.group_by else ""
    return (
        f'{alias}: eventCounts(type: "{q.type}", last: "{q.end_ms - q.start_ms}ms", '
        f'step: "{q.step_ms}ms"{group}) {{ labels data }}'
    )


def widget_queries(spec: DashboardSpec, tenant: str) -> list[str]:
    """For each widget, the GraphQL a client would send for the same data by itself."""
    view = planner.make_view(tenant, spec.time_range, spec.variables, None, now_ms())
    documents = []
    for widget in spec.widgets:
        plan = planner.plan(widget, view)
        fields = [_metric_field(f"m{i}", q) for i, q in enumerate(plan.metric_queries)]
        fields += [_events_field(f"e{i}", q) for i, q in enumerate(plan.event_queries)]
        documents.append("{ " + " ".join(fields) + " }")
    return documents


def _post(client: httpx.Client, body: bytes) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post("/graphql", content=body)
    elapsed = (time.perf_counter() - started) * 1000
    answer: dict[str, Any] = orjson.loads(response.content)
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"bad response {response.status_code}: {response.text[:500]}")
    return elapsed, answer


def run(options: DashboardOptions, workdir: Path, profile_dir: Path | None) -> list[Comparison]:
    section(f"dashboard: 12 widgets in one request vs their 12 queries, {options.rounds} rounds")
    data_dir = workdir / "dashboard"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    profile = profile_dir / "gateway_dashboard.prof" if profile_dir else None
    argv = python_argv(
        "analytics_gateway",
        ["serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
        profile,
    )
    server = ServerProcess(
        "gateway (demo)",
        argv,
        log=workdir / "logs" / "gateway_dashboard.log",
        ready_urls=[f"{url}/readyz"],
        env=clean_env(),
        timeout=120,
    )
    with server:
        key = (data_dir / "demo-api-key.txt").read_text().strip()
        headers = {
            "Authorization": f"Bearer {key}",
            "content-type": "application/json",
            "accept-encoding": "identity",
        }
        with (
            httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=30) as dash,
            httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=30) as single,
        ):
            _, created = _post(
                dash, orjson.dumps({"query": CREATE, "variables": {"components": TWELVE}})
            )
            dashboard_id = created["data"]["createCustomDashboard"]["id"]
            spec = _spec(dash, dashboard_id)
            dashboard_body = orjson.dumps({"query": DASHBOARD, "variables": {"id": dashboard_id}})
            _, answer = _post(dash, dashboard_body)
            widgets = answer["data"]["dashboard"]["widgets"]
            if len(widgets) != 12 or any(w["data"] is None for w in widgets):
                raise RuntimeError("the dashboard did not answer every widget")

            def one_by_one() -> float:
                total = 0.0
                for document in widget_queries(spec, "demo"):
                    elapsed, _ = _post(single, orjson.dumps({"query": document}))
                    total += elapsed
                return total

            sides: dict[str, Callable[[], float]] = {
                "dashboard": lambda: _post(dash, dashboard_body)[0],
                "widgets one by one": one_by_one,
            }
            for _ in range(options.warmup):
                for measure in sides.values():
                    measure()
            samples: dict[str, list[float]] = {name: [] for name in sides}
            meter = CpuMeter(server)
            meter.start()
            for i in range(options.rounds):
                order = list(sides) if i % 2 == 0 else list(reversed(sides))
                for name in order:
                    samples[name].append(sides[name]())
            cpu = meter.stop()

    stats = {name: (percentile(v, 50), percentile(v, 95)) for name, v in samples.items()}
    for name, (p50, p95) in stats.items():
        say(f"{name:20s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms")
    notes = [f"gateway CPU {cpu / options.rounds * 1000:.1f} ms per round (both sides)"]
    return [
        Comparison("dashboard 12 widgets p50", "ms", stats["dashboard"][0],
                   stats["widgets one by one"][0], higher_is_better=False, target=0.5,
                   notes=notes),
        Comparison("dashboard 12 widgets p95", "ms", stats["dashboard"][1],
                   stats["widgets one by one"][1], higher_is_better=False, target=None),
    ]  # fmt: skip


def _spec(client: httpx.Client, dashboard_id: str) -> DashboardSpec:
    """The stored definition, read over REST (the same document the planner reads)."""
    response = client.get(f"/analytics/dashboards/{dashboard_id}", params={"data": "false"})
    response.raise_for_status()
    return DashboardSpec.from_document(response.json())
