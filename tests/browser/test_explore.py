"""Explore (#/explore) in a real headless Chromium, against `serve --demo`.

A metric is picked, filtered by a label, aggregated, stepped and grouped; the
chart and table show what the gateway answers for the same query; the query is
added to a dashboard as a new panel, which the dashboard then draws.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.async_api import Browser, Page, expect

from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet, sign_in, watch

expect.set_options(timeout=30_000)

CREATE = """mutation ($name: String!, $components: [WidgetInput!]!) {
  createCustomDashboard(name: $name, components: $components) { id version }
}"""

DEFINITION = """query ($id: ID!) {
  dashboard(id: $id) {
    version
    widgets {
      id type title position { x y w h }
      query { kind name labels aggregation step groupBy }
    }
  }
}"""

SERIES = """query ($query: MetricQuery!) { metrics(query: $query) { labels summary { count } } }"""


async def _graphql(gateway: DemoGateway, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            gateway.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).fragment.partition("?")[2])


async def _ready(page: Page) -> None:
    await expect(page.locator("#explore")).to_have_attribute("data-state", "ready")


async def test_explore_a_metric_and_add_it_to_a_dashboard(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    name = f"Explored {uuid.uuid4().hex[:6]}"
    components = [{"type": "KPI", "title": "Revenue", "query": {"name": "revenue"}}]
    created = await _graphql(demo_gateway, CREATE, {"name": name, "components": components})
    dashboard_id = created["createCustomDashboard"]["id"]

    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway, "/")
    await page.click("#nav-explore")
    await expect(page.locator("#explore-status")).to_have_text("Choose a metric.")
    await expect(page.locator("#explore-add")).to_be_disabled()

    # the metric, from metricNames
    await page.select_option("#explore-metric", "request_latency_ms")
    await _ready(page)
    await expect(page.locator("#explore-status")).to_have_text(re.compile(r"^2 series, \d+ points"))
    rows = page.locator("#explore-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#explore-chart .chart")).to_have_attribute("data-unit", "ms")
    assert (await rows.first.locator("td.num").first.inner_text()).endswith(" ms")

    # a label filter, from labelValues
    endpoint = page.locator('select.explore-label[data-label="endpoint"]')
    options = await endpoint.locator("option").all_inner_texts()
    assert options == ["any", "/play", "/search"], options
    await endpoint.select_option("/search")
    await _ready(page)
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("td").first).to_have_text("/search")

    # aggregation and step: the table counts the buckets the gateway answers
    await page.select_option("#explore-aggregation", "P95")
    await _ready(page)
    await page.select_option("#explore-step", "5m")
    await _ready(page)
    query = _query(page)
    assert query["agg"] == ["P95"], query
    assert query["step"] == ["5m"], query
    expected = await _graphql(
        demo_gateway,
        SERIES,
        {
            "query": {
                "name": "request_latency_ms",
                "labels": {"endpoint": "/search"},
                "aggregation": "P95",
                "step": "5m",
                "last": "1h",
            }
        },
    )
    count = expected["metrics"][0]["summary"]["count"]
    await expect(rows.first.locator("td.num").last).to_have_text(str(count))
    await page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)

    # add it to a dashboard
    await page.click("#explore-add")
    await page.select_option("#explore-dashboard", dashboard_id)
    await page.fill("#explore-title", "Search latency p95")
    await page.click("#explore-add-dialog button[type=submit]")
    await expect(page.locator("#explore-added")).to_contain_text(f"Added to {name}")
    definition = (await _graphql(demo_gateway, DEFINITION, {"id": dashboard_id}))["dashboard"]
    assert definition["version"] == 2
    added = definition["widgets"][-1]
    assert added["type"] == "CHART"
    assert added["title"] == "Search latency p95"
    assert added["query"] == {
        "kind": "METRIC",
        "name": "request_latency_ms",
        "labels": {"endpoint": "/search"},
        "aggregation": "P95",
        "step": "5m",
        "groupBy": None,
    }
    # placed beside the KPI, not over it
    assert added["position"]["y"] == 0, added
    assert added["position"]["x"] >= 3, added

    # the dashboard draws the new panel
    await page.click("#explore-open")
    panel = page.locator(f'[data-widget-id="{added["id"]}"]')
    await expect(panel).to_have_attribute("data-state", "ready")
    await expect(panel.locator(".widget-title")).to_have_text("Search latency p95")
    assert int(await panel.locator(".widget-body").get_attribute("data-points") or 0) > 0
    await page.screenshot(path=str(tmp_path / "added-panel.png"), full_page=True)

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


async def test_explore_absolute_range_and_zoom(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway, "/#/explore?metric=cpu_usage&by=host")
    await _ready(page)
    await expect(page.locator("#explore-table tbody tr")).to_have_count(3)

    # dragging across the chart reads that range (metrics take from/to)
    plot = page.locator("#explore-chart .u-over")
    box = await plot.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.4, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=8)
    await page.mouse.up()
    await page.wait_for_function("() => location.hash.includes('from=')")
    await _ready(page)
    query = _query(page)
    span = int(query["to"][0]) - int(query["from"][0])
    assert 0.2 * 3_600_000 < span < 0.4 * 3_600_000, query
    await expect(page.locator("#explore-range")).to_have_value("custom")
    # fewer buckets than over the whole hour, all within the range
    counts = await page.locator("#explore-table tbody tr td.num:last-child").all_inner_texts()
    assert all(0 < int(c) < 60 for c in counts), counts
    await page.screenshot(path=str(tmp_path / "explore-zoomed.png"), full_page=True)

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()
