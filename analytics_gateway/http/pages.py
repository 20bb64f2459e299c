"""Serves the built front end: the dashboard UI at `/`, its assets under `/static/`,
and the GraphiQL page the `/graphql` endpoint shows to browsers.

The front end is built by `npm ci --prefix frontend && npm run build --prefix
frontend` into `analytics_gateway/web/dist` (not committed). Without it, `/`
answers 503 with that command, and `/graphql` shows Strawberry's GraphiQL,
whose assets come from a CDN. Once built, every asset, GraphiQL's included,
comes from this server: the pages work on a machine with no internet.

Each page gets a small JSON config in place of `"__GATEWAY_CONFIG__"`: in demo
mode, the demo API key, so GraphiQL's Authorization header and the UI's key
field are filled in. Outside demo mode there is no key in any page. With
`ANALYTICS_OIDC_CLIENT_ID`, it also names the identity provider the UI signs in
with (issuer, public client id, audience, tenant claim: nothing secret), and the
UI's Content-Security-Policy lets it reach the issuer's origin (discovery and
the token endpoint are called from the browser).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from analytics_gateway.config import Settings
from analytics_gateway.http.handlers import services_of
from analytics_gateway.http.middleware import CONTENT_SECURITY_POLICY

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
PLACEHOLDER = '"__GATEWAY_CONFIG__"'
BUILD_COMMAND = "npm ci --prefix frontend && npm run build --prefix frontend"
NOT_BUILT = """<!doctype html>
<html><head><meta charset="utf-8"><title>analytics-gateway: UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The web UI has not been built</h1>
<p>The gateway is running (the GraphQL API answers at <code>/graphql</code>), but the
{what} was not built. From the project root, run:</p>
<pre>{command}</pre>
<p>then reload this page (no restart needed).</p>
</body></html>
"""
NO_STORE = {"Cache-Control": "no-store"}
FALLBACK_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; "
    "style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data:; "
    "font-src 'self' data: https://unpkg.com; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _config(settings: Settings) -> dict[str, Any]:
    demo_key = None
    if settings.demo:
        path = settings.demo_key_path
        if path.exists():
            demo_key = path.read_text().strip() or None
    config: dict[str, Any] = {"demo": settings.demo, "demoKey": demo_key, "graphqlPath": "/graphql"}
    if settings.oidc_client_id:
        config["oidc"] = {
            "issuer": settings.oidc_issuer,
            "clientId": settings.oidc_client_id,
            "audience": settings.oidc_audience,
            "tenantClaim": settings.oidc_tenant_claim,
        }
    return config


def _headers(settings: Settings, page: str) -> dict[str, str]:
    """No caching; for the UI signing in with a provider, the default CSP plus the
    issuer's origin in `connect-src` (the redirect to it is a navigation, not a fetch)."""
    if page != "index.html" or not settings.oidc_client_id:
        return NO_STORE
    issuer = urlsplit(settings.oidc_issuer)
    origin = f"{issuer.scheme}://{issuer.netloc}"
    csp = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {origin}")
    return {**NO_STORE, "Content-Security-Policy": csp}


def _render(settings: Settings, page: str) -> str | None:
    path = DIST / page
    if not path.exists():
        return None
    config = orjson.dumps(_config(settings)).decode().replace("<", "\\u003c")
    return path.read_text(encoding="utf-8").replace(PLACEHOLDER, config, 1)


async def render(settings: Settings, page: str, what: str) -> Response:
    html = await asyncio.to_thread(_render, settings, page)
    if html is None:
        body = NOT_BUILT.format(what=what, command=BUILD_COMMAND)
        return HTMLResponse(body, status_code=503, headers=NO_STORE)
    return HTMLResponse(html, headers=_headers(settings, page))


async def graphiql_page(settings: Settings, fallback_html: str) -> Response:
    """The built, offline GraphiQL; before the UI is built, Strawberry's own page
    (`fallback_html`, whose assets come from a CDN), so the explorer still works."""
    html = await asyncio.to_thread(_render, settings, "graphiql.html")
    if html is None:
        # Strawberry's page: inline scripts and assets from unpkg, until the UI is built
        headers = {**NO_STORE, "Content-Security-Policy": FALLBACK_CSP}
        return HTMLResponse(fallback_html, headers=headers)
    return HTMLResponse(html, headers=NO_STORE)


def is_built() -> bool:
    return (DIST / "index.html").is_file()


class _Assets:
    """Static files of the build; 404 (not an error) while nothing is built."""

    def __init__(self) -> None:
        self._files = StaticFiles(directory=DIST, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not DIST.is_dir():
            await Response("not built: " + BUILD_COMMAND, status_code=404)(scope, receive, send)
            return
        await self._files(scope, receive, send)


async def index(request: Request) -> Response:
    return await render(services_of(request).settings, "index.html", "dashboard UI")


def routes() -> list[BaseRoute]:
    return [Route("/", index, methods=["GET"]), Mount("/static", app=_Assets())]
