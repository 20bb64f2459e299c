"""The web UI and GraphiQL in a real headless Chromium, against `serve --demo`.

Every request the pages make beyond loopback is aborted and recorded: the UI
and GraphiQL must work on a machine with no internet.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet

# Generous on a busy machine: a new server's first dashboard waits for the ML stack's
# cold start (PyOD import and numba compile, several seconds on 2 shared cores).
expect.set_options(timeout=30_000)

DEMO_NAME = "Music platform overview"
DATA_WIDGETS = ".widget:not(.widget-alerts):not(.widget-anomalies):not(.widget-forecast)"

PAINTED_PIXELS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
  return painted;
}"""


def csp_violations(page: Page) -> list[str]:
    """Console reports of what the page's Content-Security-Policy refused."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


async def _painted(page: Page, selector: str) -> int:
    painted: int = await page.locator(selector).first.evaluate(PAINTED_PIXELS)
    return painted


async def _kpi(page: Page, widget_id: str) -> float:
    raw = await page.locator(f'[data-widget-id="{widget_id}"] .kpi-value').get_attribute(
        "data-value"
    )
    assert raw, f"KPI {widget_id} has no value"
    return float(raw)


async def test_demo_dashboard_renders_and_updates_live(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    refused = csp_violations(page)

    await page.goto(demo_gateway.url + "/")
    # demo mode fills in the demo key; the key then lives in the tab's session
    await expect(page.locator("#api-key")).to_have_value(demo_gateway.key)
    await page.click("#login button[type=submit]")
    await page.get_by_role("link", name=DEMO_NAME).click()

    widgets = page.locator(DATA_WIDGETS)
    await expect(widgets).to_have_count(9)
    for index in range(9):
        await expect(widgets.nth(index)).to_have_attribute("data-state", "ready")
    for widget in await widgets.all():
        points = await widget.locator(".widget-body").get_attribute("data-points")
        assert points is not None, await widget.inner_text()
        assert int(points) > 0, await widget.inner_text()
    chart_canvas = '[data-widget-type="CHART"] .chart canvas'
    assert await page.locator(chart_canvas).count() == 3
    for index in range(3):
        canvas = page.locator(chart_canvas).nth(index)
        assert await canvas.evaluate(PAINTED_PIXELS) > 500  # lines were drawn
    assert await _painted(page, '[data-widget-type="KPI"] .sparkline canvas') > 50
    assert await page.locator(".heatmap-cell[style*=background]").count() > 20
    # the panels: the demo's alert rules with their state, anomalies detected in
    # cpu_usage drawn over its lines, and a revenue forecast with its interval
    alert_rows = page.locator(".widget-alerts tbody tr")
    await expect(alert_rows).to_have_count(2)
    await expect(page.locator(".widget-alerts")).to_contain_text("High error rate")
    assert await _painted(page, ".widget-anomalies .chart canvas") > 500
    await expect(page.locator(".widget-anomalies .anomaly-list li").first).to_be_visible()
    assert await _painted(page, ".widget-forecast .chart canvas") > 500
    await expect(page.locator(".widget-forecast .hint")).to_contain_text("model:")
    assert await page.locator(".widget .badge").count() == 0  # no panel is empty

    # live: the range total of revenue moves once new points are ingested
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    before = await _kpi(page, "w2")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            demo_gateway.url + "/analytics/metrics",
            json=[{"name": "revenue", "value": 1e9}],
            headers={"Authorization": f"Bearer {demo_gateway.key}"},
        )
    assert response.status_code == 200, response.text
    await page.wait_for_function(
        """(floor) => Number(document.querySelector('[data-widget-id="w2"] .kpi-value')
             .dataset.value) >= floor""",
        arg=before + 0.99e9,
        timeout=30_000,
    )
    assert "B" in await page.locator('[data-widget-id="w2"] .kpi-value').inner_text()

    screenshot = tmp_path / "demo-dashboard.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000

    # a variable narrows every widget that refers to it, and titles name its value
    plays = page.locator(".widget-title", has_text="Song plays per minute (")
    await expect(plays).to_have_text("Song plays per minute (All)")
    await page.select_option('select[data-variable="country"]', "DE")
    table = page.locator('[data-widget-type="TABLE"] tbody tr')
    await expect(table).to_have_count(1)
    await expect(table.locator("td").first).to_have_text("DE")
    await expect(plays).to_have_text("Song plays per minute (DE)")
    assert "var.country=DE" in page.url
    # and the time range picker re-reads the dashboard for the new range
    await page.select_option("#time-range", "6h")
    await expect(page.locator(DATA_WIDGETS).first).to_have_attribute("data-state", "ready")
    assert "range=6h" in page.url

    assert offline.blocked == []
    assert page_errors == []
    assert refused == []  # the UI needs nothing its Content-Security-Policy forbids
    await context.close()


async def test_graphiql_works_offline_with_the_demo_key(
    browser: Browser, demo_gateway: DemoGateway
) -> None:
    async with httpx.AsyncClient() as http:
        page_html = await http.get(demo_gateway.url + "/graphql", headers={"accept": "text/html"})
    assert page_html.status_code == 200
    assert "unpkg.com" not in page_html.text
    assert "cdn" not in page_html.text.lower()
    context = await browser.new_context()
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    refused = csp_violations(page)

    introspections: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            introspections.append(request.headers.get("authorization"))
            if "__schema" in (request.post_data or "")
            else None
        ),
    )

    await page.goto(demo_gateway.url + "/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await expect(editor).to_be_visible()
    headers = page.locator(".graphiql-editor-tool .CodeMirror").last
    await expect(headers).to_contain_text(f"Bearer {demo_gateway.key}")
    # the schema is there on first load, without a re-fetch: the docs list its root types
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    await expect(docs).to_contain_text("Query")
    await expect(docs).to_contain_text("Subscription")
    await expect(page.locator(".graphiql-doc-explorer")).not_to_contain_text("Error fetching")
    assert introspections, "GraphiQL fetched no schema"
    assert all(value == f"Bearer {demo_gateway.key}" for value in introspections), introspections

    await editor.evaluate(
        """(node) => node.CodeMirror.setValue(
             '{ viewer dashboards { name } }')"""
    )
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror")
    await expect(result).to_contain_text(DEMO_NAME)
    await expect(result).to_contain_text('"tenant": "demo"')

    assert offline.blocked == []
    assert failed == []
    assert refused == []  # GraphiQL needs nothing its Content-Security-Policy forbids
    # the guards work: the page's own policy stops a request beyond this server, and
    # the test's router records any that got past it
    probe = "https://cdn.example.invalid/graphiql.min.js"
    await page.evaluate("(url) => fetch(url).catch(() => null)", probe)
    await page.wait_for_function("() => true")  # let the console event arrive
    for _ in range(100):
        if refused:
            break
        await page.wait_for_timeout(50)
    assert any("cdn.example.invalid" in message for message in refused), refused
    assert offline.blocked == []
    await context.close()


CHART_HEIGHTS = """() => [...document.querySelectorAll('.widget .chart canvas')]
  .map((canvas) => Math.round(canvas.getBoundingClientRect().height))"""


EVERY_WIDGET_DONE = """() => {
  const widgets = [...document.querySelectorAll('.widget')];
  return widgets.length > 0 && widgets.every((w) => ['ready', 'error'].includes(w.dataset.state));
}"""


async def _settled_heights(page: Page) -> list[int]:
    """Chart heights once every widget has its answer (the ML panels' come last; a busy
    machine takes a while) and two looks 300 ms apart agree (resizes run after layout)."""
    await page.wait_for_function(EVERY_WIDGET_DONE, timeout=120_000)
    previous: list[int] = []
    for _ in range(100):
        heights: list[int] = await page.evaluate(CHART_HEIGHTS)
        if heights and heights == previous:
            return heights
        previous = heights
        await page.wait_for_timeout(300)
    raise AssertionError(f"chart heights never settled: {previous}")


def _about_the_same(heights: list[int], first: list[int]) -> None:
    """Each chart as tall as at first, give or take a legend line (live values change
    a legend's width, so how it wraps); a chart that shrank is a fraction of that."""
    assert len(heights) == len(first), (heights, first)
    assert all(abs(h - f) <= 40 for h, f in zip(heights, first, strict=True)), (heights, first)


async def test_charts_fill_their_panels_again_after_navigating_and_resizing(
    browser: Browser, demo_gateway: DemoGateway
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    await cut_off_from_the_internet(context)
    page = await context.new_page()
    await page.goto(demo_gateway.url + "/")
    await page.click("#login button[type=submit]")
    await page.get_by_role("link", name=DEMO_NAME).click()
    await expect(page.locator(DATA_WIDGETS).first).to_have_attribute("data-state", "ready")
    first = await _settled_heights(page)
    assert len(first) >= 3, first
    assert min(first) > 150, first

    for _ in range(2):  # to the list and back
        await page.go_back()
        await expect(page.get_by_role("link", name=DEMO_NAME)).to_be_visible()
        await page.go_forward()
        await expect(page.locator(DATA_WIDGETS).first).to_have_attribute("data-state", "ready")
        _about_the_same(await _settled_heights(page), first)

    # narrower: legends wrap and take more of each panel; wide again: as before
    await page.set_viewport_size({"width": 700, "height": 1400})
    narrow = await _settled_heights(page)
    assert narrow != first
    await page.set_viewport_size({"width": 1400, "height": 1400})
    _about_the_same(await _settled_heights(page), first)
    await context.close()
