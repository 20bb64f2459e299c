"""The alerting pages in a real headless Chromium, against `serve --demo`.

A rule is made in the UI after its preview replayed history; points ingested
over HTTP take it PENDING then FIRING, which the open page shows without a
reload; the firing series is silenced from the page. Contact points are made
and tried from the UI.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from tests.fixtures.alert_receivers import WEBHOOK_SECRET, HttpReceiver
from tests.fixtures.chromium import DemoGateway, cut_off_from_the_internet, sign_in, watch

expect.set_options(timeout=30_000)


async def _ingest(gateway: DemoGateway, points: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            gateway.url + "/analytics/metrics",
            json=points,
            headers={"Authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [], response.text


async def test_a_rule_made_in_the_ui_fires_live_and_is_silenced_from_it(
    browser: Browser, demo_gateway: DemoGateway, tmp_path: Path
) -> None:
    metric = f"probe_{uuid.uuid4().hex[:8]}"
    rule_name = f"Probe hot {metric[-4:]}"
    # history for the preview: 50 to 20 minutes ago, hot for ten minutes in the middle
    now = datetime.now(UTC)
    await _ingest(
        demo_gateway,
        [
            {
                "name": metric,
                "value": 100.0 if 40 <= minutes_ago < 50 else 1.0,
                "labels": {"room": "lab"},
                "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat(),
            }
            for minutes_ago in range(60, 20, -1)
        ],
    )

    context = await browser.new_context(viewport={"width": 1400, "height": 1100})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, demo_gateway, "/#/alerts")
    await expect(page.locator("#alert-rules")).to_contain_text("High error rate")

    await page.click("#new-rule")
    await page.fill("#rule-name", rule_name)
    await page.fill("#rule-condition", f"{metric} > 50")
    await page.fill("#rule-for", "4s")
    await page.fill("#rule-interval", "1s")
    await page.fill("#rule-summary", "{{ $labels.room }} at {{ $value }}")
    await page.select_option("#rule-preview-range", "1h")
    # the preview replays the last hour: the hot ten minutes fired once
    preview = page.locator("#rule-preview")
    await expect(preview).to_have_attribute("data-firing", "1")
    await expect(preview).to_have_attribute("data-state", "ready")
    await expect(page.locator("#rule-preview-summary")).to_contain_text("fired 1 times")
    timeline = page.locator("#rule-preview-timeline .timeline-row")
    await expect(timeline).to_have_count(1)
    await expect(timeline.locator('.segment[data-state="FIRING"]')).to_have_count(1)
    await page.screenshot(path=str(tmp_path / "rule-preview.png"), full_page=True)

    await page.click("#save-rule")
    await expect(page.locator("#alerts-page h1")).to_contain_text(rule_name)
    rule_url = page.url
    assert "#/alerts/rules/" in rule_url
    await expect(page.locator("#alerts-live")).to_have_attribute("data-state", "live")

    # new points: PENDING at once, FIRING once it held for 4s, on this page as it is
    await _ingest(demo_gateway, [{"name": metric, "value": 99.0, "labels": {"room": "lab"}}])
    state = page.locator("#rule-state")
    await expect(state).to_have_attribute("data-state", "PENDING")
    await expect(state).to_have_attribute("data-state", "FIRING")
    assert page.url == rule_url  # no navigation, no reload
    feed = page.locator(f'#alert-feed li[data-alert="{rule_name}"]')
    await expect(feed.and_(page.locator('[data-state="PENDING"]'))).to_have_count(1)
    await expect(feed.and_(page.locator('[data-state="FIRING"]'))).to_have_count(1)
    instance = page.locator('#rule-instances tr[data-state="FIRING"]')
    await expect(instance).to_contain_text('room="lab"')
    row = page.locator("#rule-timeline .timeline-row", has_text='room="lab"')
    await expect(row).to_have_attribute("data-state", "FIRING")
    await expect(row.locator('.segment[data-state="PENDING"]')).to_have_count(1)
    history = page.locator("#rule-history tbody tr")
    await expect(history.first).to_have_attribute("data-state", "FIRING")
    await page.screenshot(path=str(tmp_path / "rule-firing.png"), full_page=True)

    # silence the firing series from its row: the matchers come from its labels
    await instance.get_by_role("link", name="Silence").click()
    matchers = page.locator("#silence-matchers .matcher-row")
    await expect(matchers).to_have_count(2)
    await expect(matchers.nth(0).locator(".matcher-label")).to_have_value("alertname")
    await expect(matchers.nth(0).locator(".matcher-value")).to_have_value(rule_name)
    await expect(matchers.nth(1).locator(".matcher-label")).to_have_value("room")
    await expect(matchers.nth(1).locator(".matcher-value")).to_have_value("lab")
    await page.fill("#silence-duration", "2h")
    await page.fill("#silence-comment", "looking into it")
    await page.click("#create-silence")
    silence = page.locator("#silences tbody tr", has_text=rule_name)
    await expect(silence).to_have_attribute("data-active", "true")
    await expect(silence).to_contain_text(f'alertname="{rule_name}", room="lab"')
    await expect(silence).to_contain_text("looking into it")
    await page.screenshot(path=str(tmp_path / "silences.png"), full_page=True)

    async with httpx.AsyncClient() as http:
        response = await http.post(
            demo_gateway.url + "/graphql",
            json={"query": "{ silences(active: true) { comment matchers { label value } } }"},
            headers={"Authorization": f"Bearer {demo_gateway.key}"},
        )
    stored = [s for s in response.json()["data"]["silences"] if s["comment"] == "looking into it"]
    assert stored == [
        {
            "comment": "looking into it",
            "matchers": [
                {"label": "alertname", "value": rule_name},
                {"label": "room", "value": "lab"},
            ],
        }
    ]

    # and expired from the list
    await silence.get_by_role("button", name="Expire").click()
    await page.click('#confirm-dialog button[data-value="true"]')
    await expect(silence).to_have_attribute("data-active", "false")

    # the rule, edited: its form holds what was saved, the change is stored
    await page.goto(rule_url + "/edit")
    await expect(page.locator("#rule-condition")).to_have_value(f"{metric} > 50")
    await expect(page.locator("#rule-summary")).to_have_value("{{ $labels.room }} at {{ $value }}")
    await page.select_option("#rule-severity", "CRITICAL")
    await page.click("#save-rule")
    await expect(page.locator("#alerts-page h1")).to_contain_text(rule_name)
    await expect(page.locator("#alerts-page .facts")).to_contain_text("CRITICAL")

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()


async def test_contact_points_are_created_and_tried_from_the_ui(
    browser: Browser,
    demo_gateway_reaching_loopback: DemoGateway,
    http_receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    gateway = demo_gateway_reaching_loopback
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)
    await sign_in(page, gateway, "/#/alerts/channels")
    name = f"ops-{uuid.uuid4().hex[:6]}"

    # a signed webhook to the receiver; webhook fields only, no email ones
    await page.select_option("#channel-kind", "WEBHOOK")
    await expect(page.locator("#channel-smtp-host")).to_be_hidden()
    await page.fill("#channel-name", name)
    await page.fill("#channel-url", http_receiver.url("/hook/ui"))
    await page.fill("#channel-secret", WEBHOOK_SECRET)
    await page.click("#create-channel")
    row = page.locator(f'#channels tr[data-channel="{name}"]')
    await expect(row).to_contain_text("webhook")
    await expect(row).to_contain_text("signed")
    await row.get_by_role("button", name=f"Test {name}").click()
    result = row.locator(".test-result")
    await expect(result).to_have_attribute("data-outcome", "DELIVERED")
    await expect(result).to_contain_text("delivered")
    (delivery,) = http_receiver.at("/hook/ui")
    assert delivery.signed

    # a destination the egress policy refuses is not created, and the page says why
    await page.fill("#channel-name", f"{name}-private")
    await page.fill("#channel-url", "http://10.1.2.3/hook")
    await page.click("#create-channel")
    await expect(page.locator("#channel-error")).to_contain_text("private address")
    # nor is an email channel without its server
    await page.select_option("#channel-kind", "EMAIL")
    await expect(page.locator("#channel-smtp-host")).to_be_visible()
    await expect(page.locator("#channel-url")).to_be_hidden()
    await page.click("#create-channel")
    await expect(page.locator("#channel-error")).to_contain_text("smtpHost")
    await expect(page.locator("#channels tbody tr")).to_have_count(1)
    await page.screenshot(path=str(tmp_path / "contact-points.png"), full_page=True)

    # a rule offers the new channel to notify, and to run as an action
    await page.get_by_role("link", name="Alert rules").click()
    await page.click("#new-rule")
    await expect(page.locator(f'#rule-channels input[value="{name}"]')).to_be_visible()
    await expect(page.locator(f'#rule-actions input[value="{name}"]')).to_be_visible()

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []
    await context.close()
