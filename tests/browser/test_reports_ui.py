"""The reports and KPIs pages in a real headless Chromium, against `serve --demo`.

A KPI is made, read over a range and alerted on from its page; a report holding
it and a panel is made (a schedule the gateway cannot read is answered under
its field), generated (KPI table, insights, the HTML in a sandboxed frame) and
its PDF downloaded with the key in a header, then edited and deleted. The page
reaches nothing beyond loopback and logs no error.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, ConsoleMessage, Request, expect

from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet, sign_in, watch

# generateReport reads six periods, detects anomalies and forecasts: seconds on a busy machine
expect.set_options(timeout=30_000)
GENERATE_TIMEOUT_MS = 120_000
NUMBER = re.compile(r"^-?\d")
REPORTS = (
    "{ reports { id name kpis period schedule recipients panels { metric aggregation groupBy } } }"
)


async def _graphql(gateway: DemoGateway, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            gateway.url + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def test_a_report_is_made_generated_downloaded_edited_and_deleted_in_the_ui(
    browser: Browser, demo_gateway_reaching_loopback: DemoGateway, tmp_path: Path
) -> None:
    # the egress policy lets a channel name 127.0.0.1: a mail contact point to pick as
    # a recipient (nothing is sent: the schedule's next run is hours away)
    gateway = demo_gateway_reaching_loopback
    suffix = uuid.uuid4().hex[:6]
    kpi_name = f"Plays {suffix}"
    report_name = f"Daily plays {suffix}"
    mail = f"reports-mail-{suffix}"
    created = await _graphql(
        gateway,
        "mutation($c: ChannelInput!) { createChannel(input: $c) { id } }",
        {
            "c": {
                "name": mail,
                "kind": "EMAIL",
                "smtpHost": "127.0.0.1",
                "smtpPort": 2525,
                "sender": "reports@example.com",
                "recipients": ["team@example.com"],
            }
        },
    )
    channel_id = created["createChannel"]["id"]

    context = await browser.new_context(viewport={"width": 1400, "height": 1100})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", on_console)
    requested: list[str] = []

    def on_request(request: Request) -> None:
        requested.append(request.url)

    page.on("request", on_request)
    await sign_in(page, gateway)

    # a KPI whose target it cannot reach: off target
    await page.click("#nav-kpis")
    await expect(page.locator("#kpis")).to_be_visible()
    await page.click("#new-kpi")
    await page.fill("#kpi-name", kpi_name)
    await page.fill("#kpi-formula", "song_plays")
    await page.select_option("#kpi-aggregation", "SUM")
    await page.fill("#kpi-target", "1e15")
    await page.select_option("#kpi-direction", "HIGHER")
    await page.click("#save-kpi")
    kpi_row = page.locator(f'#kpis tr[data-kpi="{kpi_name}"]')
    await expect(kpi_row).to_have_attribute("data-status", "OFF_TARGET")
    await expect(kpi_row.locator(".kpi-reading")).to_have_attribute("data-value", NUMBER)
    await page.select_option("#kpi-range", "7d")
    await expect(page.locator("#kpis")).to_have_attribute("data-range", "7d")
    await expect(kpi_row).to_have_attribute("data-status", "OFF_TARGET")
    await page.screenshot(path=str(tmp_path / "kpis.png"), full_page=True)
    kpi_id = await kpi_row.get_attribute("data-kpi-id")
    assert kpi_id

    # alert when off target: an ordinary rule, labelled with the KPI
    await kpi_row.get_by_role("button", name=f"Alert when {kpi_name} is off target").click()
    await page.fill("#kpi-alert-for", "15m")
    await page.fill("#kpi-alert-window", "2h")
    await page.click('#kpi-alert-dialog button[type="submit"]')
    await expect(page.locator("#kpi-alert-link")).to_contain_text(kpi_name)
    alerts = (await _graphql(gateway, "{ alerts { name for labels } }", {}))["alerts"]
    made = [a for a in alerts if a["labels"].get("kpi") == kpi_id]
    assert [(a["name"], a["for"]) for a in made] == [(f"{kpi_name} off target", "15m")]

    # a report of it and a panel; a schedule the gateway cannot read is refused under its field
    await page.click("#nav-reports")
    await expect(page.locator("#reports")).to_be_visible()
    await page.click("#new-report")
    await page.fill("#report-name", report_name)
    await page.locator("#report-kpis").get_by_label(kpi_name).check()
    panel = page.locator("#report-panels .panel-row").first
    await panel.locator(".panel-metric").fill("song_plays")
    await panel.locator(".panel-aggregation").select_option("SUM")
    await panel.locator(".panel-group-by").fill("country")
    await page.select_option("#report-period", "DAY")
    await page.locator("#report-recipients").get_by_label(mail).check()
    await page.fill("#report-schedule", "now and then")
    await page.click("#save-report")
    await expect(page.locator("#report-schedule-error")).to_contain_text("schedule")
    assert "#/reports/new" in page.url
    await page.screenshot(path=str(tmp_path / "report-form.png"), full_page=True)
    await page.fill("#report-schedule", "every day 07:30 UTC")
    await expect(page.locator("#report-schedule-error")).to_be_empty()
    await page.click("#save-report")
    await expect(page.locator("#reports-page h1")).to_have_text(report_name)
    report_id = page.url.rsplit("/", 1)[-1]
    stored = (await _graphql(gateway, REPORTS, {}))["reports"]
    (saved,) = [r for r in stored if r["name"] == report_name]
    assert saved == {
        "id": report_id,
        "name": report_name,
        "kpis": [kpi_id],
        "period": "DAY",
        "schedule": "every day 07:30 UTC",
        "recipients": [channel_id],
        "panels": [{"metric": "song_plays", "aggregation": "SUM", "groupBy": ["country"]}],
    }

    # generated over the last complete day: the KPI row, insights, the HTML preview
    await page.click("#generate-report")
    result = page.locator("#report-result")
    await expect(result).to_have_attribute("data-state", "ready", timeout=GENERATE_TIMEOUT_MS)
    row = page.locator(f'#report-kpi-values tr[data-kpi="{kpi_name}"]')
    await expect(row).to_have_attribute("data-status", "OFF_TARGET")
    insights = page.locator("#report-insights li[data-kind]")
    assert await insights.count() >= 1
    off_target = page.locator('#report-insights li[data-kind="KPI_OFF_TARGET"]')
    await expect(off_target).to_contain_text(kpi_name)
    mover = page.locator('#report-insights li[data-kind="MOVER"]')
    await expect(mover).to_have_attribute("data-subject", "song_plays")
    frame = page.locator("#report-preview")
    await expect(frame).to_have_attribute("sandbox", "")
    await expect(page.frame_locator("#report-preview").locator("body")).to_contain_text(kpi_name)
    await page.screenshot(path=str(tmp_path / "report-generated.png"), full_page=True)

    # the PDF, fetched with the key in a header and saved from a blob URL
    async with page.expect_download(timeout=GENERATE_TIMEOUT_MS) as waiting:
        await page.click("#download-pdf")
    download = await waiting.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert pdf.startswith(b"%PDF"), pdf[:16]
    assert len(pdf) > 5_000
    assert download.suggested_filename.endswith(".pdf")
    assert any(f"/analytics/reports/{report_id}/pdf?" in url for url in requested)
    assert not any(gateway.key in url for url in requested)

    # edited: the form holds what was saved, the change is stored
    await page.click("#edit-report")
    await expect(page.locator("#report-name")).to_have_value(report_name)
    await expect(page.locator("#report-schedule")).to_have_value("every day 07:30 UTC")
    await expect(page.locator("#report-panels .panel-group-by").first).to_have_value("country")
    await page.select_option("#report-period", "WEEK")
    await page.fill("#report-name", f"{report_name} v2")
    await page.click("#save-report")
    await expect(page.locator("#reports-page h1")).to_have_text(f"{report_name} v2")
    await expect(page.locator("#reports-page .facts")).to_contain_text("week")
    stored = (await _graphql(gateway, "{ reports { id name period kpis } }", {}))["reports"]
    assert [(r["name"], r["period"], r["kpis"]) for r in stored if r["id"] == report_id] == [
        (f"{report_name} v2", "WEEK", [kpi_id])
    ]

    # deleted from its page: gone from the list and the API
    await page.click("#delete-report")
    await page.click('#confirm-dialog button[data-value="true"]')
    await expect(page.locator("#reports")).to_be_visible()
    await expect(page.locator(f'#reports tr[data-report-id="{report_id}"]')).to_have_count(0)
    stored = (await _graphql(gateway, "{ reports { id } }", {}))["reports"]
    assert report_id not in [r["id"] for r in stored]

    # the KPI edited to a target it meets, then deleted
    await page.click("#nav-kpis")
    await page.locator(f'#kpis tr[data-kpi="{kpi_name}"]').get_by_role("link", name="Edit").click()
    await expect(page.locator("#kpi-formula")).to_have_value("song_plays")
    await page.fill("#kpi-target", "0")
    await page.click("#save-kpi")
    await expect(kpi_row).to_have_attribute("data-status", "ON_TARGET")
    await kpi_row.get_by_role("button", name=f"Delete {kpi_name}").click()
    await page.click('#confirm-dialog button[data-value="true"]')
    await expect(kpi_row).to_have_count(0)
    kpis = (await _graphql(gateway, "{ kpis { id } }", {}))["kpis"]
    assert kpi_id not in [k["id"] for k in kpis]

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    assert console_errors == []
    await context.close()
