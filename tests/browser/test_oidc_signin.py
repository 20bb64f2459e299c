"""Signing in to the web UI through a real OpenID provider, in headless Chromium.

The provider is `oidc-provider` (npm) from `tests/fixtures/oidc`, started with the
gateway's UI address: its public client `gateway-ui` does the authorization code
grant with S256 PKCE, and its two users live in two tenants (alice: acme, read
write; bob: globex). The gateway runs as users start it (`serve`), naming the
provider and the client. Every request the browser makes beyond loopback is
aborted and recorded, as for the other UI tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from playwright.async_api import Browser, Page, expect

from analytics_gateway.http import pages
from tests.conftest import make_settings
from tests.fixtures.chromium import cut_off_from_the_internet, require_built_ui, watch
from tests.servers import GatewayProcess, OidcProvider

# generous on a busy machine: a new server's first dashboard read starts its stores
expect.set_options(timeout=30_000)

AUDIENCE = "https://analytics-gateway.test"
UI_CLIENT = "gateway-ui"
TOKENS = "analytics-gateway.oidc-tokens"
CREATE = """mutation ($name: String!, $components: [WidgetInput!]!) {
  createCustomDashboard(name: $name, components: $components) { id }
}"""
KPI_VALUE = '[data-widget-id="kpi"] .kpi-value'


def _jwks() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    # without PyJWT's `key_ops: ["sign"]`: the provider also verifies with this key (the
    # ID token sent back as `id_token_hint` at sign-out)
    jwk.pop("key_ops", None)
    return {"keys": [{**jwk, "kid": "ui-1", "alg": "RS256", "use": "sig"}]}


@dataclass
class SignInSetup:
    gateway: GatewayProcess
    provider: OidcProvider
    keys: dict[str, str]  # tenant -> an API key (ingest, read, write)


def _create_key(data: Path, tenant: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "analytics_gateway", "keys", "create", "--tenant", tenant,
         "--scopes", "ingest,read,write", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[SignInSetup]:
    require_built_ui()
    data = tmp_path / "data"
    # the two know each other: the provider sends users back to the UI, the gateway
    # names the provider (both ports are chosen before either starts)
    gateway = GatewayProcess(data, {"ANALYTICS_JSON_LOGS": "false"})
    provider = OidcProvider(tmp_path / "oidc", AUDIENCE, ui_url=gateway.url + "/")
    gateway.env.update(
        ANALYTICS_OIDC_ISSUER=provider.issuer,
        ANALYTICS_OIDC_AUDIENCE=AUDIENCE,
        ANALYTICS_OIDC_CLIENT_ID=UI_CLIENT,
    )
    provider.start(_jwks())
    try:
        gateway.start()
        try:
            keys = {tenant: _create_key(data, tenant) for tenant in ("acme", "globex")}
            yield SignInSetup(gateway, provider, keys)
        finally:
            gateway.stop()
    finally:
        provider.stop()


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _as(setup: SignInSetup, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup.keys[tenant]}"}


async def _ingest(setup: SignInSetup, tenant: str, value: float) -> None:
    point = {"name": "signups", "value": value, "timestamp": _iso(int(time.time() * 1000))}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            setup.gateway.url + "/analytics/metrics", json=[point], headers=_as(setup, tenant)
        )
    assert response.status_code == 200, response.text


async def _dashboard(setup: SignInSetup, tenant: str, name: str) -> str:
    components = [
        {"type": "KPI", "id": "kpi", "title": "Signups", "metric": "signups",
         "aggregation": "LAST"},
        {"type": "CHART", "id": "chart", "title": "Signups over time", "metric": "signups"},
    ]  # fmt: skip
    async with httpx.AsyncClient() as http:
        response = await http.post(
            setup.gateway.url + "/graphql",
            json={"query": CREATE, "variables": {"name": name, "components": components}},
            headers=_as(setup, tenant),
        )
    body = response.json()
    assert "errors" not in body, body
    dashboard_id: str = body["data"]["createCustomDashboard"]["id"]
    return dashboard_id


async def _tokens(page: Page) -> dict[str, Any]:
    raw = await page.evaluate("(key) => sessionStorage.getItem(key)", TOKENS)
    assert raw, "no tokens in the tab's session"
    tokens: dict[str, Any] = json.loads(raw)
    return tokens


async def test_sign_in_with_pkce_shows_the_users_tenant_renews_and_signs_out(
    browser: Browser, setup: SignInSetup, tmp_path: Path
) -> None:
    # acme's data, and globex's under the same metric name and in a dashboard of its own
    await _ingest(setup, "acme", 7)
    await _ingest(setup, "globex", 9000)
    await _dashboard(setup, "acme", "Acme signups")
    await _dashboard(setup, "globex", "Globex board")

    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    offline = await cut_off_from_the_internet(context)
    page = await context.new_page()
    problems = watch(page)

    # the UI offers the provider beside the API key field
    await page.goto(setup.gateway.url + "/")
    provider_button = page.locator("#oidc-sign-in")
    await expect(provider_button).to_have_text(f"Sign in with 127.0.0.1:{setup.provider.port}")
    await expect(page.locator("#api-key")).to_be_visible()
    await provider_button.click()

    # at the provider: the authorization request carries PKCE (S256), state and nonce
    await page.wait_for_url(re.compile(re.escape(setup.provider.issuer) + "/interaction/"))
    await page.locator("#login").fill("alice")
    await page.locator("#password").fill("wrong")
    await page.click("#sign-in")
    await expect(page.locator("#login-error")).to_contain_text("wrong password")
    await page.locator("#login").fill("alice")
    await page.locator("#password").fill("alice-password")
    await page.screenshot(path=str(tmp_path / "oidc-provider-login.png"))
    await page.click("#sign-in")

    # back in the UI, signed in; the code and state are gone from the address
    await page.locator("#sign-out").wait_for(state="visible")
    assert page.url == setup.gateway.url + "/#/"
    badge = page.locator("#signed-in-as")
    await expect(badge).to_have_text("alice · acme")
    tokens = await _tokens(page)
    claims = jwt.decode(tokens["accessToken"], options={"verify_signature": False})
    assert (claims["sub"], claims["tenant"], claims["aud"]) == ("alice", "acme", AUDIENCE)
    assert claims["scope"] == "read write"  # the UI asked for admin too; alice may not have it
    assert tokens["refreshToken"]
    stored = await page.evaluate("() => JSON.stringify(localStorage)")
    assert tokens["accessToken"] not in stored
    assert tokens["refreshToken"] not in stored

    # acme's dashboards only, and acme's data only
    await expect(page.get_by_role("link", name="Acme signups")).to_be_visible()
    assert await page.get_by_role("link", name="Globex board").count() == 0
    await page.get_by_role("link", name="Acme signups").click()
    await expect(page.locator('[data-widget-id="kpi"]')).to_have_attribute("data-state", "ready")
    await expect(page.locator(KPI_VALUE)).to_have_attribute("data-value", "7")
    await expect(page.locator('[data-widget-id="chart"]')).to_have_attribute("data-state", "ready")
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await page.screenshot(path=str(tmp_path / "oidc-dashboard.png"), full_page=True)

    # the token lives 30 s: the UI renews it with the refresh token before then, and the
    # live connection goes on with the new one past the first token's expiry
    first = tokens["accessToken"]
    await page.wait_for_function(
        "([key, first]) => JSON.parse(sessionStorage.getItem(key) ?? '{}').accessToken !== first",
        arg=[TOKENS, first],
        timeout=60_000,
    )
    wait = claims["exp"] + 2 - time.time()
    if wait > 0:
        await page.wait_for_timeout(wait * 1000)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    await _ingest(setup, "acme", 11)
    await expect(page.locator(KPI_VALUE)).to_have_attribute("data-value", "11")
    await expect(badge).to_have_text("alice · acme")

    # sign-out: the tokens are dropped, the provider ends its session, the UI is back
    await page.click("#sign-out")
    await page.wait_for_url(re.compile(re.escape(setup.provider.issuer) + "/session/end"))
    await page.click("#confirm-sign-out")
    await expect(page.locator("#oidc-sign-in")).to_be_visible()
    assert await page.evaluate("(key) => sessionStorage.getItem(key)", TOKENS) is None
    await expect(badge).to_have_count(0)
    await page.screenshot(path=str(tmp_path / "oidc-signed-out.png"))

    # the provider's session ended too: signing in again asks who; bob sees globex only
    await page.click("#oidc-sign-in")
    await page.wait_for_url(re.compile(re.escape(setup.provider.issuer) + "/interaction/"))
    await page.locator("#login").fill("bob")
    await page.locator("#password").fill("bob-password")
    await page.click("#sign-in")
    await expect(badge).to_have_text("bob · globex")
    await expect(page.get_by_role("link", name="Globex board")).to_be_visible()
    assert await page.get_by_role("link", name="Acme signups").count() == 0

    assert offline.blocked == []
    assert problems.errors == []
    assert problems.refused == []  # the CSP lets the UI reach the provider, nothing more
    await context.close()


async def test_the_ui_learns_the_provider_and_may_reach_only_its_origin(tmp_path: Path) -> None:
    require_built_ui()
    settings = make_settings(
        tmp_path / "data",
        oidc_issuer="https://login.example.com/realms/x",
        oidc_audience=AUDIENCE,
        oidc_client_id=UI_CLIENT,
    )
    response = await pages.render(settings, "index.html", "page")
    html = bytes(response.body).decode()
    match = re.search(r'<script id="gateway-config" type="application/json">(.*?)</script>', html)
    assert match is not None
    assert json.loads(match.group(1))["oidc"] == {
        "issuer": "https://login.example.com/realms/x",
        "clientId": UI_CLIENT,
        "audience": AUDIENCE,
        "tenantClaim": "tenant",
    }
    csp = response.headers["content-security-policy"]
    assert "connect-src 'self' https://login.example.com;" in csp
    assert "script-src 'self';" in csp

    # no client id: no provider in the page, the default CSP (from the middleware)
    plain = await pages.render(
        make_settings(tmp_path / "plain", oidc_issuer="https://login.example.com/",
                      oidc_audience=AUDIENCE),
        "index.html",
        "page",
    )  # fmt: skip
    assert '"oidc"' not in bytes(plain.body).decode()
    assert "content-security-policy" not in plain.headers
    with pytest.raises(ValueError, match="ANALYTICS_OIDC_CLIENT_ID needs ANALYTICS_OIDC_ISSUER"):
        make_settings(tmp_path / "bad", oidc_client_id=UI_CLIENT)
