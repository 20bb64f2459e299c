"""The pages the gateway serves: the UI at `/`, GraphiQL at `/graphql`, both from the build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.http import pages
from tests.conftest import asgi_transport, make_settings, started

BROWSER = {"accept": "text/html,application/xhtml+xml"}


def _config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="gateway-config" type="application/json">(.*?)</script>', html)
    assert match is not None, html[:500]
    config: dict[str, object] = json.loads(match.group(1))
    return config


async def _get(tmp_path: Path, path: str) -> httpx.Response:
    app = create_app(make_settings(tmp_path / "data"), registry=CollectorRegistry())
    async with started(app):
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return await http.get(path, headers=BROWSER)


@pytest.fixture
def built() -> None:
    if not (pages.DIST / "index.html").exists():
        pytest.fail(f"the web UI is not built: run `{pages.BUILD_COMMAND}`")


@pytest.mark.usefixtures("built")
async def test_pages_carry_the_demo_key_in_demo_mode_only(tmp_path: Path) -> None:
    for path in ("/", "/graphql"):
        plain = await _get(tmp_path / "plain", path)
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "no-store"
        assert _config(plain.text)["demoKey"] is None
        assert "agk_" not in plain.text

    # the demo key as `serve --demo` leaves it in the data directory
    demo = make_settings(tmp_path / "demo", demo=True)
    demo.data_dir.mkdir(parents=True)
    demo.demo_key_path.write_text("agk_demo_secret\n")
    for page in ("index.html", "graphiql.html"):
        response = await pages.render(demo, page, "page")
        assert _config(bytes(response.body).decode()) == {
            "demo": True,
            "demoKey": "agk_demo_secret",
            "graphqlPath": "/graphql",
        }
    not_demo = make_settings(tmp_path / "demo", demo=False)  # same directory, same key file
    response = await pages.render(not_demo, "index.html", "page")
    assert "agk_demo_secret" not in bytes(response.body).decode()


@pytest.mark.usefixtures("built")
async def test_assets_come_from_the_gateway(tmp_path: Path) -> None:
    index = await _get(tmp_path, "/")
    scripts = re.findall(r'src="(/static/assets/[^"]+\.js)"', index.text)
    assert scripts
    asset = await _get(tmp_path, scripts[0])
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]
    graphiql = await _get(tmp_path, "/graphql")
    assert "https://" not in re.sub(r"<script[^>]*>.*?</script>", "", graphiql.text, flags=re.S)
    assert re.findall(r'src="(/static/assets/graphiql-[^"]+\.js)"', graphiql.text)


async def test_a_clear_message_when_the_ui_was_not_built_and_graphiql_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "DIST", tmp_path / "not-built")
    response = await _get(tmp_path, "/")
    assert response.status_code == 503
    assert "dashboard UI" in response.text
    assert pages.BUILD_COMMAND in response.text
    # GraphiQL still works: Strawberry's page, its assets from a CDN
    explorer = await _get(tmp_path, "/graphql")
    assert explorer.status_code == 200
    assert "graphiql" in explorer.text.lower()
    assert "https://" in explorer.text
    assert "/static/assets/" not in explorer.text
    missing = await _get(tmp_path, "/static/assets/index.js")
    assert missing.status_code == 404
