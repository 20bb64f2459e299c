"""The dashboard editor in a real headless Chromium, against `serve --demo`.

A dashboard is built with the editor's pickers and the mouse, saved, and read
back after a reload; two tabs saving the same dashboard meet the version check;
a dashboard exported as JSON imports as the same definition.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Locator, Page, expect

from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet, sign_in, watch

expect.set_options(timeout=30_000)

DEFINITION = """query ($id: ID!) {
  dashboard(id: $id) {
    name version timeRange
    variables { name default options }
    widgets {
      id type title style position { x y w h }
      query { kind name formula labels aggregation step groupBy last source }
    }
  }
}"""


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


async def _definition(gateway: DemoGateway, dashboard_id: str) -> Any:
    return (await _graphql(gateway, DEFINITION, {"id": dashboard_id}))["dashboard"]


def _dashboard_id(page: Page) -> str:
    # `#/d/<id>/edit` once a new dashboard is saved
    return page.url.split("#/d/")[1].split("/")[0]


async def _rect(panel: Locator) -> dict[str, int]:
    values = await panel.evaluate("(node) => ({...node.dataset})")
    return {key: int(values[key]) for key in ("x", "y", "w", "h")}


async def _drag(page: Page, handle: Locator, dx: float, dy: float) -> None:
    """Press on the handle, move by (dx, dy) pixels in steps, let go."""
    box = await handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + dx, y + dy, steps=8)
    await page.mouse.up()


async def _cell_pitch(page: Page) -> tuple[float, float]:
    """One grid cell plus its gap, in pixels (columns, rows)."""
    pitch: list[float] = await page.locator("#edit-grid").evaluate(
        """(grid) => {
          const style = getComputedStyle(grid);
          const gap = parseFloat(style.columnGap);
          return [(grid.getBoundingClientRect().width + gap) / 12,
                  parseFloat(style.gridAutoRows) + parseFloat(style.rowGap)];
        }"""
    )
    return pitch[0], pitch[1]


async def test_build_a_dashboard_in_the_editor_and_find_it_after_a_reload(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    name = f"Editor test {uuid.uuid4().hex[:6]}"
    await sign_in(page, demo_gateway)

    await page.click("#new-dashboard")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "new")
    await page.click("#dashboard-settings-button")
    await page.fill("#settings-name", name)
    await page.fill("#settings-range", "6h")
    await page.click("#dashboard-settings button[type=submit]")
    await expect(page.locator("#editor-title")).to_have_text(name)

    # a panel configured with the pickers: metric, a label filter, aggregation, step, group by
    await page.click("#add-panel")
    await expect(page.locator("#panel-editor")).to_be_visible()
    await page.fill("#panel-title", "CPU of web-1")
    await page.select_option("#panel-type", "CHART")
    await page.select_option("#panel-style", "AREA")
    await page.select_option("#qb-metric", "cpu_usage")
    await page.click("#qb-add-label")
    await page.select_option(".qb-label-key", "host")
    await page.select_option(".qb-label-value", "web-1")
    await page.select_option("#qb-aggregation", "MAX")
    await page.fill("#qb-step", "5m")
    await page.check('#qb-group-by input[value="host"]')
    # the preview reads what the panel will show: web-1 only
    preview = page.locator("#panel-preview")
    await expect(preview).to_have_attribute("data-state", "ready")
    await expect(preview).to_have_attribute("data-series", "1")
    await expect(page.locator("#panel-preview-status")).to_contain_text("1 series")
    await page.screenshot(path=str(tmp_path / "panel-editor.png"))
    await page.click("#panel-editor button[type=submit]")
    await expect(page.locator("#panel-editor")).to_have_count(0)

    panel = page.locator('.edit-panel[data-widget-id="w1"]')
    await expect(panel).to_have_attribute("data-w", "6")
    assert await _rect(panel) == {"x": 0, "y": 0, "w": 6, "h": 4}
    summary = 'cpu_usage{host="web-1"} · MAX · step 5m · by host'
    await expect(panel.locator(".panel-summary")).to_have_text(summary)

    # move by its title bar 3 columns right and 1 row down, then resize by its corner
    column, row = await _cell_pitch(page)
    await _drag(page, panel.locator(".edit-panel-head .widget-title"), 3 * column, 1 * row)
    await expect(panel).to_have_attribute("data-x", "3")
    assert await _rect(panel) == {"x": 3, "y": 1, "w": 6, "h": 4}
    await _drag(page, panel.locator(".resize-handle"), 1 * column, 1 * row)
    await expect(panel).to_have_attribute("data-w", "7")
    assert await _rect(panel) == {"x": 3, "y": 1, "w": 7, "h": 5}
    # and the keyboard: an arrow moves, Shift+arrow resizes
    await panel.focus()
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Shift+ArrowUp")
    await expect(panel).to_have_attribute("data-h", "4")
    assert await _rect(panel) == {"x": 4, "y": 1, "w": 7, "h": 4}
    await page.screenshot(path=str(tmp_path / "editor-grid.png"))

    # a duplicate goes right below; deleting it asks first
    await panel.get_by_role("button", name="Duplicate").click()
    copy = page.locator('.edit-panel[data-widget-id="w2"]')
    await expect(copy).to_have_attribute("data-y", "5")
    await expect(copy.locator(".widget-title")).to_have_text("CPU of web-1 (copy)")
    await copy.get_by_role("button", name="Delete").click()
    await page.click('#confirm-dialog button[data-value="true"]')
    await expect(page.locator(".edit-panel")).to_have_count(1)

    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "new")
    await page.click("#save-dashboard")
    status = page.locator("#editor-status")
    await expect(status).to_have_attribute("data-state", "saved")
    await expect(status).to_have_attribute("data-version", "1")
    assert page.url.endswith("/edit")
    dashboard_id = _dashboard_id(page)

    # what the gateway stored
    stored = await _definition(demo_gateway, dashboard_id)
    assert stored["name"] == name
    assert stored["timeRange"] == "6h"
    (widget,) = stored["widgets"]
    assert widget["title"] == "CPU of web-1"
    assert widget["type"] == "CHART"
    assert widget["style"] == "AREA"
    assert widget["position"] == {"x": 4, "y": 1, "w": 7, "h": 4}
    assert widget["query"] == {
        "kind": "METRIC",
        "name": "cpu_usage",
        "formula": "",
        "labels": {"host": "web-1"},
        "aggregation": "MAX",
        "step": "5m",
        "groupBy": ["host"],
        "last": None,
        "source": "STORE",
    }

    # a reload shows the same panel, and its editor the same query
    await page.reload()
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    await expect(page.locator("#editor-title")).to_have_text(name)
    panel = page.locator('.edit-panel[data-widget-id="w1"]')
    await expect(panel.locator(".widget-title")).to_have_text("CPU of web-1")
    await expect(panel.locator(".panel-summary")).to_have_text(summary)
    assert await _rect(panel) == {"x": 4, "y": 1, "w": 7, "h": 4}
    await panel.get_by_role("button", name="Edit").click()
    await expect(page.locator("#panel-title")).to_have_value("CPU of web-1")
    await expect(page.locator("#qb-metric")).to_have_value("cpu_usage")
    await expect(page.locator(".qb-label-key")).to_have_value("host")
    await expect(page.locator(".qb-label-value")).to_have_value("web-1")
    await expect(page.locator("#qb-aggregation")).to_have_value("MAX")
    await expect(page.locator("#qb-step")).to_have_value("5m")
    await expect(page.locator('#qb-group-by input[value="host"]')).to_be_checked()
    await page.click("#panel-editor button:text('Cancel')")

    # out of the editor, the dashboard draws the panel where it was put
    await page.click("#exit-editor")
    shown = page.locator('.widget[data-widget-id="w1"]')
    await expect(shown).to_have_attribute("data-state", "ready")
    await expect(shown.locator(".widget-title")).to_have_text("CPU of web-1")
    assert await shown.evaluate("(node) => node.style.gridArea") == "2 / 5 / span 4 / span 7"
    await page.screenshot(path=str(tmp_path / "edited-dashboard.png"), full_page=True)
    assert (tmp_path / "edited-dashboard.png").stat().st_size > 10_000

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


CREATE = """mutation ($name: String!, $components: [WidgetInput!]!) {
  createCustomDashboard(name: $name, components: $components) { id version }
}"""


async def _create(gateway: DemoGateway, name: str) -> str:
    components = [
        {"type": "KPI", "title": "Revenue", "query": {"name": "revenue", "aggregation": "SUM"}},
        {"type": "CHART", "title": "CPU", "query": {"name": "cpu_usage", "groupBy": ["host"]}},
    ]
    created = await _graphql(gateway, CREATE, {"name": name, "components": components})
    dashboard_id: str = created["createCustomDashboard"]["id"]
    return dashboard_id


async def _open_editor(page: Page, gateway: DemoGateway, dashboard_id: str) -> None:
    await sign_in(page, gateway, f"/#/d/{dashboard_id}/edit")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")


async def _retitle(page: Page, title: str) -> None:
    await page.click("#dashboard-settings-button")
    await page.fill("#settings-name", title)
    await page.click("#dashboard-settings button[type=submit]")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "dirty")


async def test_saving_a_stale_version_asks_to_reload_or_overwrite(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    dashboard_id = await _create(demo_gateway, f"Shared {uuid.uuid4().hex[:6]}")
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    offline = await cut_off_from_the_internet(context)
    mine, theirs = await context.new_page(), await context.new_page()
    problems = [watch(mine), watch(theirs)]
    await _open_editor(mine, demo_gateway, dashboard_id)
    await _open_editor(theirs, demo_gateway, dashboard_id)

    # the other tab saves first: version 2
    await _retitle(theirs, "Their title")
    await theirs.click("#save-dashboard")
    await expect(theirs.locator("#editor-status")).to_have_attribute("data-version", "2")

    # this tab still edits version 1: its save is refused and the user is asked
    await _retitle(mine, "My title")
    await mine.click("#save-dashboard")
    conflict = mine.locator("#conflict-dialog")
    await expect(conflict).to_be_visible()
    await expect(conflict).to_contain_text("changed elsewhere")
    await expect(mine.locator("#conflict-message")).to_contain_text(
        "you started from version 1, it is now at version 2"
    )
    await expect(conflict.get_by_role("button", name="Reload (discard my changes)")).to_be_visible()
    await mine.screenshot(path=str(tmp_path / "conflict.png"))
    assert (await _definition(demo_gateway, dashboard_id))["name"] == "Their title"

    # overwrite: this tab's edit wins, as version 3
    await conflict.get_by_role("button", name="Overwrite with mine").click()
    await expect(mine.locator("#editor-status")).to_have_attribute("data-version", "3")
    await expect(mine.locator("#editor-status")).to_have_attribute("data-state", "saved")
    stored = await _definition(demo_gateway, dashboard_id)
    assert (stored["name"], stored["version"]) == ("My title", 3)

    # now the other tab is stale: it reloads instead, and loses its edit
    await _retitle(theirs, "Their second title")
    await theirs.click("#save-dashboard")
    await theirs.locator("#conflict-dialog").get_by_role("button", name="Reload").click()
    await expect(theirs.locator("#editor-title")).to_have_text("My title")
    await expect(theirs.locator("#editor-status")).to_have_attribute("data-version", "3")
    await expect(theirs.locator("#editor-status")).to_have_attribute("data-state", "saved")
    assert (await _definition(demo_gateway, dashboard_id))["version"] == 3

    assert offline.blocked == []
    for seen in problems:
        assert seen.errors == []
        assert seen.refused == []
    await context.close()


async def test_a_dashboard_exported_as_json_imports_as_the_same_definition(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    original_id = await _create(demo_gateway, f"Exported {uuid.uuid4().hex[:6]}")
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await _open_editor(page, demo_gateway, original_id)

    async with page.expect_download() as downloading:
        await page.click("#export-json")
    download = await downloading.value
    exported = tmp_path / download.suggested_filename
    await download.save_as(exported)
    assert exported.name.startswith("exported-")
    document = json.loads(exported.read_text())
    # the file is the GraphQL input shape: updateDashboard takes it as it is
    assert set(document) == {"name", "layout", "timeRange", "variables", "widgets"}
    assert document["widgets"][0]["query"] == {
        "name": "revenue",
        "aggregation": "SUM",
        "source": "STORE",
    }

    await page.click("#exit-editor")
    await page.goto(demo_gateway.url + "/#/")
    await page.click("#import-dashboard")
    await page.set_input_files("#import-file", str(exported))
    await expect(page.locator("#import-text")).to_have_value(exported.read_text())
    await page.click("#import-dialog button[type=submit]")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    imported_id = _dashboard_id(page)
    assert imported_id != original_id
    await page.screenshot(path=str(tmp_path / "imported.png"))

    original = await _definition(demo_gateway, original_id)
    imported = await _definition(demo_gateway, imported_id)
    assert imported == original

    # a file that is no dashboard is refused in the dialog, nothing is created
    await page.goto(demo_gateway.url + "/#/")
    await page.click("#import-dashboard")
    await page.fill("#import-text", '{"widgets": "no"}')
    await page.click("#import-dialog button[type=submit]")
    await expect(page.locator("#import-dialog .form-error")).to_contain_text("not a dashboard")
    await page.click("#import-dialog button:text('Cancel')")

    # the JSON model edits the definition in place; Save writes it
    await page.goto(demo_gateway.url + f"/#/d/{imported_id}/edit")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    await page.click("#edit-json")
    model = json.loads(await page.locator("#import-text").input_value())
    assert model == document
    model["widgets"][1]["position"] = {"x": 0, "y": 8, "w": 12, "h": 3}
    await page.fill("#import-text", json.dumps(model))
    await page.click("#json-model button[type=submit]")
    await expect(page.locator('.edit-panel[data-widget-id="w2"]')).to_have_attribute("data-w", "12")
    await page.click("#save-dashboard")
    await expect(page.locator("#editor-status")).to_have_attribute("data-version", "2")
    stored = await _definition(demo_gateway, imported_id)
    assert stored["widgets"][1]["position"] == {"x": 0, "y": 8, "w": 12, "h": 3}

    # save as: a new dashboard with the same panels, opened in the editor
    await page.click("#save-as")
    await page.fill("#save-as-name", "Copy of the import")
    await page.click("#save-as-dialog button[type=submit]")
    await expect(page.locator("#editor-title")).to_have_text("Copy of the import")
    copy_id = _dashboard_id(page)
    assert copy_id not in (imported_id, original_id)
    copy = await _definition(demo_gateway, copy_id)
    assert copy["widgets"] == stored["widgets"]

    # delete asks first; then the list no longer has it
    await page.click("#delete-dashboard")
    await expect(page.locator("#confirm-dialog")).to_contain_text("Copy of the import")
    await page.click('#confirm-dialog button[data-value="true"]')
    await expect(page.locator("#new-dashboard")).to_be_visible()
    await expect(page.get_by_role("link", name="Copy of the import")).to_have_count(0)
    await expect(page.get_by_role("link", name=original["name"])).to_have_count(2)

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


async def test_the_demo_dashboard_saves_unchanged_from_the_editor(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    """Every widget kind (metric, formula, events, panels) and a variable fed by a
    metric's label survive a save from the editor as they were."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1400})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway)
    await page.get_by_role("link", name="Music platform overview").click()
    await page.click("#edit-dashboard")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    before = await _definition(demo_gateway, "overview")
    await expect(page.locator(".edit-panel")).to_have_count(len(before["widgets"]))
    # saved panels are drawn with their data, as on the dashboard
    await expect(page.locator('.edit-panel[data-state="ready"]')).to_have_count(
        len(before["widgets"])
    )

    await page.click("#dashboard-settings-button")
    variable = page.locator("#settings-variables .var-row")
    await expect(variable.locator(".var-source")).to_have_value("metric")
    await expect(variable.locator(".var-metric")).to_have_value("song_plays")
    await expect(variable.locator(".var-metric-label")).to_have_value("country")
    await page.click("#dashboard-settings button[type=submit]")
    await expect(page.locator("#editor-status")).to_have_attribute("data-state", "saved")
    await page.screenshot(path=str(tmp_path / "demo-in-editor.png"), full_page=True)

    await page.click("#save-dashboard")
    await expect(page.locator("#editor-status")).to_have_attribute(
        "data-version", str(before["version"] + 1)
    )
    after = await _definition(demo_gateway, "overview")
    assert {**after, "version": before["version"]} == before
    async with httpx.AsyncClient() as http:
        stored = await http.get(
            demo_gateway.url + "/analytics/dashboards/overview?data=false",
            headers={"Authorization": f"Bearer {demo_gateway.key}"},
        )
    (country,) = stored.json()["variables"]
    assert (country["optionsMetric"], country["optionsLabel"]) == ("song_plays", "country")

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()
