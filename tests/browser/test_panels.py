"""Panels in a real headless Chromium, against `serve --demo`: threshold colours, a unit
and thresholds saved in the editor and kept after a reload, absolute ranges read by
the gateway, and the panel menu (inspect, CSV export, full screen).

Every request beyond loopback is refused and recorded.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.fixtures.chromium import (
    DemoGateway,
    Offline,
    PageProblems,
    cut_off_from_the_internet,
    sign_in,
    watch,
)

expect.set_options(timeout=30_000)

MINUTE = 60_000
RED = "rgb(227, 109, 109)"
BLUE = "rgb(78, 154, 241)"
GREEN = "rgb(92, 201, 138)"
CREATE = """mutation ($name: String!, $components: [WidgetInput!]!) {
  createCustomDashboard(name: $name, components: $components) { id }
}"""
SETTINGS = """query ($id: ID!) {
  dashboard(id: $id) { version widgets { id unit thresholds { value color } } }
}"""


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


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


async def _ingest(gateway: DemoGateway, points: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            gateway.url + "/analytics/metrics",
            json=points,
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 200, response.text


async def _dashboard(gateway: DemoGateway, components: list[dict[str, Any]]) -> str:
    name = f"Panels {uuid.uuid4().hex[:6]}"
    created = await _graphql(gateway, CREATE, {"name": name, "components": components})
    dashboard_id: str = created["createCustomDashboard"]["id"]
    return dashboard_id


async def _open(browser: Browser) -> tuple[BrowserContext, Page, Offline, PageProblems]:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    return context, page, offline, watch(page)


async def _ready(page: Page, *widget_ids: str) -> None:
    for widget_id in widget_ids:
        await expect(page.locator(f'[data-widget-id="{widget_id}"]')).to_have_attribute(
            "data-state", "ready"
        )


async def _colour(page: Page, selector: str) -> str:
    colour: str = await page.locator(selector).evaluate("(node) => getComputedStyle(node).color")
    return colour


async def test_threshold_colours_and_settings_saved_in_the_editor_survive_a_reload(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    metric = f"probe_load_{uuid.uuid4().hex[:6]}"
    now = int(time.time() * 1000)
    await _ingest(demo_gateway, [
        {"name": metric, "value": value, "timestamp": _iso(now - (3 - i) * MINUTE)}
        for i, value in enumerate([40.0, 55.0, 75.0])
    ])  # fmt: skip
    steps = [
        {"value": 0, "color": "green"},
        {"value": 50, "color": "orange"},
        {"value": 70, "color": "red"},
    ]
    dashboard_id = await _dashboard(demo_gateway, [
        {"type": "KPI", "id": "kpi", "title": "Load", "metric": metric, "aggregation": "LAST",
         "thresholds": steps},
        {"type": "CHART", "id": "chart", "title": "Load over time", "metric": metric,
         "thresholds": [{"value": 60, "color": "red"}]},
        {"type": "TABLE", "id": "table", "title": "Load table", "metric": metric,
         "thresholds": [{"value": 0, "color": "green"}, {"value": 90, "color": "red"}]},
    ])  # fmt: skip
    context, page, offline, problems = await _open(browser)
    await sign_in(page, demo_gateway, f"/#/d/{dashboard_id}")
    await _ready(page, "kpi", "chart", "table")

    # the stat value takes the colour of the highest threshold it reaches (75 >= 70)
    kpi_value = '[data-widget-id="kpi"] .kpi-value'
    await expect(page.locator(kpi_value)).to_have_attribute("data-threshold", "red")
    assert await _colour(page, kpi_value) == RED
    # the chart draws its threshold as a line, within the axis (40 to 75)
    chart = page.locator('[data-widget-id="chart"] .chart')
    await expect(chart).to_have_attribute("data-thresholds", "60:red")
    await expect(chart).to_have_attribute("data-thresholds-drawn", "1")
    # the table colours each row's last value
    last = '[data-widget-id="table"] tbody td.num >> nth=0'
    await expect(page.locator(last)).to_have_attribute("data-threshold", "green")
    assert await _colour(page, last) == GREEN
    await page.screenshot(path=str(tmp_path / "thresholds.png"), full_page=True)

    # the editor: a unit, one threshold removed, one added
    await page.goto(demo_gateway.url + f"/#/d/{dashboard_id}/edit")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    await (
        page.locator('.edit-panel[data-widget-id="kpi"]').get_by_role("button", name="Edit").click()
    )
    await expect(page.locator("#panel-editor")).to_be_visible()
    await expect(page.locator("#panel-unit")).to_have_value("")
    rows = page.locator("#panel-thresholds .threshold-row")
    await expect(rows).to_have_count(3)
    await page.select_option("#panel-unit", "percent")
    await rows.nth(2).locator(".threshold-remove").click()
    await expect(rows).to_have_count(2)
    await page.click("#panel-add-threshold")
    await expect(rows).to_have_count(3)
    await rows.nth(2).locator(".threshold-value").fill("60")
    await rows.nth(2).locator(".threshold-color").select_option("blue")
    await page.screenshot(path=str(tmp_path / "panel-settings.png"))
    # the same value twice is refused before it reaches the gateway
    await rows.nth(1).locator(".threshold-value").fill("60")
    await page.click("#panel-editor button[type=submit]")
    await expect(page.locator("#panel-editor .form-error")).to_contain_text("same value")
    await rows.nth(1).locator(".threshold-value").fill("50")
    await page.click("#panel-editor button[type=submit]")
    await expect(page.locator("#panel-editor")).to_have_count(0)
    await page.click("#save-dashboard")
    await expect(page.locator("#editor-status")).to_have_attribute("data-version", "2")

    stored = (await _graphql(demo_gateway, SETTINGS, {"id": dashboard_id}))["dashboard"]
    assert stored["widgets"][0] == {
        "id": "kpi",
        "unit": "PERCENT",
        "thresholds": [
            {"value": 0.0, "color": "green"},
            {"value": 50.0, "color": "orange"},
            {"value": 60.0, "color": "blue"},
        ],
    }
    # the other panels kept theirs
    assert stored["widgets"][1] == {
        "id": "chart", "unit": None, "thresholds": [{"value": 60.0, "color": "red"}]
    }  # fmt: skip

    # exported as JSON with the panel's settings
    async with page.expect_download() as downloading:
        await page.click("#export-json")
    exported = tmp_path / "exported.json"
    await (await downloading.value).save_as(exported)
    kpi = json.loads(exported.read_text())["widgets"][0]
    assert (kpi["unit"], kpi["thresholds"][2]) == ("PERCENT", {"value": 60, "color": "blue"})

    # after a reload: the editor shows them, the dashboard uses them
    await page.reload()
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    await (
        page.locator('.edit-panel[data-widget-id="kpi"]').get_by_role("button", name="Edit").click()
    )
    await expect(page.locator("#panel-unit")).to_have_value("percent")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2).locator(".threshold-color")).to_have_value("blue")
    await page.click("#panel-editor button:text('Cancel')")
    await page.goto(demo_gateway.url + f"/#/d/{dashboard_id}")
    await page.reload()
    await _ready(page, "kpi", "chart", "table")
    await expect(page.locator('[data-widget-id="kpi"]')).to_have_attribute("data-unit", "percent")
    await expect(page.locator(kpi_value)).to_have_text(re.compile(r"%$"))
    await expect(page.locator(kpi_value)).to_have_attribute("data-threshold", "blue")
    assert await _colour(page, kpi_value) == BLUE
    await page.screenshot(path=str(tmp_path / "settings-after-reload.png"), full_page=True)

    # an absolute range is read by the gateway: three minutes ago, only the first point
    start, end = now - 3 * MINUTE - 30_000, now - 2 * MINUTE - 30_000
    async with page.expect_request(
        lambda r: r.url.endswith("/graphql") and "query Dashboard" in (r.post_data or "")
    ) as requested:
        await page.goto(demo_gateway.url + f"/#/d/{dashboard_id}?from={start}&to={end}")
    sent = json.loads((await requested.value).post_data or "{}")["variables"]
    assert (sent["from"], sent["to"], sent["range"]) == (_iso(start), _iso(end), None)
    await _ready(page, "kpi")
    await expect(page.locator(kpi_value)).to_have_attribute("data-value", "40")
    await expect(page.locator(kpi_value)).to_have_attribute("data-threshold", "green")

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


async def test_panel_menu_inspects_exports_csv_and_shows_full_screen(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    metric = f"probe_menu_{uuid.uuid4().hex[:6]}"
    base = (int(time.time() * 1000) // MINUTE - 5) * MINUTE
    values = {"a": [1.5, 2.5, 3.5], "b": [10.0, 20.0, 30.0]}
    await _ingest(demo_gateway, [
        {"name": metric, "value": v, "labels": {"host": host},
         "timestamp": _iso(base + i * MINUTE + 1000)}
        for host, column in values.items() for i, v in enumerate(column)
    ])  # fmt: skip
    dashboard_id = await _dashboard(demo_gateway, [
        {"type": "CHART", "id": "chart", "title": "Probe chart", "metric": metric,
         "groupBy": ["host"], "step": "1m"},
        {"type": "KPI", "id": "kpi", "title": "Probe total", "metric": metric,
         "aggregation": "SUM"},
    ])  # fmt: skip
    context, page, offline, problems = await _open(browser)
    await sign_in(page, demo_gateway, f"/#/d/{dashboard_id}")
    await _ready(page, "chart", "kpi")
    chart = page.locator('[data-widget-id="chart"]')

    # inspect: the GraphQL query, its variables and this panel's part of the answer
    await chart.locator(".panel-menu-toggle").click()
    await chart.locator(".panel-menu-inspect").click()
    dialog = page.locator("#inspect-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#inspect-query")).to_contain_text("query Dashboard(")
    await expect(dialog.locator("#inspect-query")).to_contain_text("dashboard(id: $id")
    variables = json.loads(await dialog.locator("#inspect-variables").inner_text())
    assert variables["id"] == dashboard_id
    assert json.loads(await dialog.locator("#inspect-panel-query").inner_text())["name"] == metric
    response = json.loads(await dialog.locator("#inspect-response").inner_text())
    assert response["data"]["id"] == "chart"
    assert response["data"]["data"]["__typename"] == "ChartData"
    assert sorted(s["labels"]["host"] for s in response["data"]["data"]["series"]) == ["a", "b"]
    await page.screenshot(path=str(tmp_path / "inspect.png"))
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_have_count(0)

    # CSV: a time column in ISO-8601 UTC, one column per series
    await chart.locator(".panel-menu-toggle").click()
    async with page.expect_download() as downloading:
        await chart.locator(".panel-menu-csv").click()
    download = await downloading.value
    assert download.suggested_filename == "probe-chart.csv"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    expected = ["time,a,b"] + [
        f"{_iso(base + i * MINUTE)},{_number(values['a'][i])},{_number(values['b'][i])}"
        for i in range(3)
    ]
    assert saved.read_bytes().decode() == "\r\n".join(expected) + "\r\n"

    # full screen: the panel fills the viewport, the address says so, a reload keeps it
    await chart.locator(".panel-menu-toggle").click()
    await chart.locator(".panel-menu-fullscreen").click()
    await page.wait_for_function("() => location.hash.includes('view=chart')")
    await _ready(page, "chart")
    await _fills_the_viewport(page, chart)
    await page.reload()
    await _ready(page, "chart")
    await expect(chart).to_have_class(re.compile(r"\bfullscreen\b"))
    await _fills_the_viewport(page, chart)
    await page.screenshot(path=str(tmp_path / "full-screen.png"))
    # Escape returns to the dashboard
    await page.keyboard.press("Escape")
    await page.wait_for_function("() => !location.hash.includes('view=')")
    await _ready(page, "chart", "kpi")
    await expect(chart).not_to_have_class(re.compile(r"\bfullscreen\b"))
    # and so does the button shown in full screen
    await chart.locator(".panel-menu-toggle").click()
    await chart.locator(".panel-menu-fullscreen").click()
    await expect(chart).to_have_class(re.compile(r"\bfullscreen\b"))
    await chart.locator(".panel-exit-fullscreen").click()
    await page.wait_for_function("() => !location.hash.includes('view=')")
    await expect(chart).not_to_have_class(re.compile(r"\bfullscreen\b"))

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


def _number(value: float) -> str:
    """A number as JavaScript's String() writes it (10.0 -> "10")."""
    return str(int(value)) if value.is_integer() else str(value)


async def _fills_the_viewport(page: Page, panel: Any) -> None:
    await expect(panel).to_have_class(re.compile(r"\bfullscreen\b"))
    box = await panel.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    assert box["width"] >= size["width"] - 2, box
    assert box["height"] >= size["height"] - 2, box
