"""Time ranges, refresh, time zones and units of the dashboard view, in a real Chromium.

The browser runs in Asia/Kolkata (UTC+05:30), so browser time and UTC differ by a
known offset; every request beyond loopback is refused and recorded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.async_api import Browser, Page, expect

from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet, sign_in, watch

expect.set_options(timeout=30_000)

# the demo dashboard's widgets (dashboards/catalogue.py demo_spec, in order)
REVENUE_KPI = '[data-widget-id="w2"]'
ERROR_RATE_KPI = '[data-widget-id="w4"]'
CPU_CHART = '[data-widget-id="w6"]'
HEATMAP = '[data-widget-id="w7"]'
LATENCY_CHART = '[data-widget-id="w8"]'
TABLE = '[data-widget-id="w9"]'
FORECAST = '[data-widget-id="w12"]'
KOLKATA_MINUTES = 5 * 60 + 30


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).fragment.partition("?")[2])


async def _ingest(gateway: DemoGateway, points: list[dict[str, object]]) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            gateway.url + "/analytics/metrics",
            json=points,
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 200, response.text


async def _ready(page: Page) -> None:
    for selector in (REVENUE_KPI, ERROR_RATE_KPI, CPU_CHART, HEATMAP, LATENCY_CHART, TABLE):
        await expect(page.locator(selector)).to_have_attribute("data-state", "ready")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


async def test_units_colours_legends_and_the_heatmap(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1500}, timezone_id="Asia/Kolkata"
    )
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway, "/#/d/overview")
    await _ready(page)

    # units detected from the metric names, on KPI values, legends and tables
    await expect(page.locator(f"{ERROR_RATE_KPI} .kpi-value")).to_have_text(re.compile(r"%$"))
    await expect(page.locator(f"{REVENUE_KPI} .kpi-value")).to_have_text(re.compile(r"^\$"))
    await expect(page.locator(LATENCY_CHART)).to_have_attribute("data-unit", "ms")
    # the legend shows the latest values before any hover, never "--"
    legend = page.locator(f"{LATENCY_CHART} .u-legend")
    await expect(legend).to_contain_text("latest")
    await expect(legend).to_contain_text(" ms")
    assert "--" not in await legend.inner_text()
    cells = page.locator(f"{TABLE} tbody td.num")
    assert not re.search(r"[%$]|ms$", await cells.first.inner_text())

    # a rising error rate is bad news: its change reads red
    await _ingest(demo_gateway, [{"name": "error_rate", "value": 5.0} for _ in range(3)])
    # (class and colour read at the same instant: live updates move the value)
    rising = await page.wait_for_function(
        """(selector) => {
          const node = document.querySelector(selector);
          if (!node?.classList.contains("up")) return null;
          return [node.className, getComputedStyle(node).color];
        }""",
        arg=f"{ERROR_RATE_KPI} .kpi-change",
    )
    classes, colour = await rising.json_value()
    assert "bad" in classes.split(), classes
    assert colour == "rgb(227, 109, 109)", colour

    # the forecast interval is one shaded band
    await expect(page.locator(f"{FORECAST} .chart")).to_have_attribute("data-bands", "1")

    # the heatmap: one time axis, a colour scale with the unit's values
    await expect(page.locator(f"{HEATMAP} .heatmap-axis")).to_have_count(1)
    assert await page.locator(f"{HEATMAP} .heatmap-axis span").count() >= 2
    await expect(page.locator(f"{HEATMAP} .heatmap-gradient")).to_be_visible()
    await expect(page.locator(f"{HEATMAP} .heatmap-max")).not_to_be_empty()

    # browser time, then UTC: charts and the heatmap follow, 05:30 apart
    local_ticks = await page.locator(f"{HEATMAP} .heatmap-axis span").all_inner_texts()
    await expect(page.locator(f"{CPU_CHART} .chart")).to_have_attribute("data-zone", "browser")
    await page.screenshot(path=str(tmp_path / "units-browser-time.png"), full_page=True)
    await page.select_option("#time-zone", "utc")
    await expect(page.locator(f"{CPU_CHART} .chart")).to_have_attribute("data-zone", "utc")
    await expect(page.locator(f"{HEATMAP} .heatmap")).to_have_attribute("data-zone", "utc")
    await expect(page.locator(f"{HEATMAP} .heatmap-label").last).to_have_text("UTC")
    utc_ticks = await page.locator(f"{HEATMAP} .heatmap-axis span").all_inner_texts()
    shift = (_minutes(local_ticks[0]) - _minutes(utc_ticks[0])) % (24 * 60)
    assert shift == KOLKATA_MINUTES, (local_ticks, utc_ticks)
    # kept for the next page
    await page.reload()
    await _ready(page)
    await expect(page.locator("#time-zone")).to_have_value("utc")

    # (a unit chosen for a panel is saved with its dashboard: see test_panels.py)
    await page.screenshot(path=str(tmp_path / "units-utc.png"), full_page=True)

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


async def test_absolute_ranges_zoom_and_refresh(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1500}, timezone_id="Asia/Kolkata"
    )
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway, "/#/d/overview")
    await _ready(page)
    await page.select_option("#time-zone", "utc")
    await _ready(page)

    # dragging across a chart sets an absolute range in the address
    before = datetime.now(UTC).timestamp() * 1000
    plot = page.locator(f"{CPU_CHART} .u-over")
    box = await plot.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.3, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    await page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    await page.mouse.up()
    await page.wait_for_function("() => location.hash.includes('from=')")
    query = _query(page)
    start, end = int(query["from"][0]), int(query["to"][0])
    hour = 3_600_000
    # about 30% of the last hour, in its middle
    assert 0.2 * hour < end - start < 0.4 * hour, (start, end)
    assert before - 0.8 * hour < start < before - 0.4 * hour, (start, before)
    assert "range" not in query
    await _ready(page)
    await expect(page.locator("#time-range")).to_have_value("custom")
    await expect(page.locator(".range-note")).to_be_visible()
    await expect(page.locator("#refresh")).to_be_disabled()
    await expect(page.locator("#live-status")).to_have_text("absolute range")
    shown = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%M")
    await expect(page.locator("#range-from")).to_have_value(shown)
    # charts show the range only: the legend's latest point is within it
    legend = await page.locator(f"{CPU_CHART} .u-legend").inner_text()
    latest = re.search(r"latest (\d\d):(\d\d):(\d\d)", legend)
    assert latest, legend
    end_time = datetime.fromtimestamp(end / 1000, UTC)
    at = end_time.replace(hour=int(latest[1]), minute=int(latest[2]), second=int(latest[3]))
    if at > end_time + timedelta(hours=12):
        at -= timedelta(days=1)
    assert at.timestamp() * 1000 <= end, (legend, end)
    # the heatmap keeps the buckets the range overlaps (waited for: the panel may still
    # be drawing the range's answer when the others are ready)
    await page.wait_for_function(
        "(selector) => Number(document.querySelector(selector)"
        "?.getAttribute('data-points') || 0) > 0",
        arg=f"{HEATMAP} .widget-body",
        timeout=30_000,
    )
    await page.screenshot(path=str(tmp_path / "zoomed.png"), full_page=True)

    # from/to typed in (UTC here) are the range in the address
    day = (datetime.now(UTC) - timedelta(days=1)).replace(second=0, microsecond=0)
    typed_from, typed_to = day.replace(hour=3, minute=4), day.replace(hour=5, minute=6)
    await page.fill("#range-from", typed_from.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#range-to", typed_to.strftime("%Y-%m-%dT%H:%M"))
    await page.click("#range-apply")
    from_ms = int(typed_from.timestamp() * 1000)
    await page.wait_for_function(f"() => location.hash.includes('from={from_ms}')")
    query = _query(page)
    assert int(query["to"][0]) == int(typed_to.timestamp() * 1000)
    await _ready(page)
    await expect(page.locator("#range-from")).to_have_value(typed_from.strftime("%Y-%m-%dT%H:%M"))
    # a range ending before it starts, or starting beyond what the gateway reads, is refused
    await page.fill("#range-to", (typed_from - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.click("#range-apply")
    await expect(page.locator("#range-error")).to_have_text("From must be before To.")
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await page.fill("#range-from", long_ago.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#range-to", typed_to.strftime("%Y-%m-%dT%H:%M"))
    await page.click("#range-apply")
    await expect(page.locator("#range-error")).to_have_text(
        "The range can start at most 366 days ago."
    )
    assert _query(page)["from"] == [str(from_ms)]

    # back to a range ending now
    await page.click("#range-relative")
    await page.wait_for_function("() => location.hash.includes('range=1h')")
    await _ready(page)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # paused: nothing moves
    await page.select_option("#refresh", "off")
    await page.wait_for_function("() => location.hash.includes('refresh=off')")
    await _ready(page)
    await expect(page.locator("#live-status")).to_have_text("paused")

    # every 10s: the dashboard is read again, new points show
    await page.select_option("#refresh", "10s")
    await page.wait_for_function("() => location.hash.includes('refresh=10s')")
    await _ready(page)
    await expect(page.locator("#live-status")).to_have_text("every 10s")
    raw = await page.locator(f"{REVENUE_KPI} .kpi-value").get_attribute("data-value")
    assert raw
    await _ingest(demo_gateway, [{"name": "revenue", "value": 1e9}])
    await page.wait_for_function(
        """(floor) => Number(document.querySelector('[data-widget-id="w2"] .kpi-value')
             .dataset.value) >= floor""",
        arg=float(raw) + 0.99e9,
        timeout=30_000,
    )
    await page.screenshot(path=str(tmp_path / "refresh.png"), full_page=True)

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()
