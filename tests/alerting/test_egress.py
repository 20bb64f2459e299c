"""Channels cannot reach the gateway's own network, and never echo what a receiver said.

The attack this prevents: a key that may create channels pointed a Slack
channel at the local Prometheus with a PromQL whose error message quoted
another tenant's values, and `testChannel` showed the reply; a channel URL of
`http://<influxd>/query?q=DROP SERIES ...` deleted another tenant's series.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from analytics_gateway.config import Settings
from tests.alerting.conftest import LOCAL_RECEIVERS, Clock, alert_gateway, client_for
from tests.conftest import GraphQLClient, make_settings, new_key
from tests.fixtures.alert_receivers import SmtpReceiver
from tests.fixtures.influxdb import InfluxServer
from tests.fixtures.prometheus import PrometheusServer
from tests.servers import free_port

CREATE = """mutation($c: ChannelInput!) { createChannel(input: $c) { id name } }"""
UPDATE = """mutation($id: ID!, $c: ChannelInput!) { updateChannel(id: $id, input: $c) { id } }"""
TEST = """mutation($id: ID!) { testChannel(id: $id) { ok outcome error } }"""
CHANNELS = "{ channels { name } }"
SECRET = "victim-secret-1234567"


@contextlib.asynccontextmanager
async def tenant(settings: Settings, clock: Clock) -> AsyncIterator[GraphQLClient]:
    key = await new_key(settings, "attacker", "read,write,admin")
    async with alert_gateway(settings, clock) as app, client_for(app, key) as client:
        yield client


def _refused(body: dict[str, Any], field: str = "url") -> str:
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field, error
    assert error["extensions"]["rule"] == "egress", error
    message: str = error["message"]
    assert "ANALYTICS_EGRESS_ALLOW" in message
    return message


async def test_channels_to_the_gateways_own_stores_are_refused(
    tmp_path: Path, clock: Clock, prometheus: PrometheusServer, influxdb_server: InfluxServer
) -> None:
    settings = make_settings(tmp_path / "data")  # the default policy: no loopback
    influxdb_server.query("CREATE DATABASE victims")
    async with httpx.AsyncClient() as http:
        written = await http.post(
            f"{influxdb_server.base_url}/write",
            params={"db": "victims"},
            content=b"revenue,tenant=victim value=1234567",
        )
        written.raise_for_status()
    promql = quote('{__name__="secret_revenue"} / on() group_left vector(0)')
    influx_port = influxdb_server.http_port
    targets = [
        (f"{prometheus.url}/api/v1/query?query={promql}", "loopback"),
        (
            f"http://127.0.0.1:{influx_port}/query?db=victims&q=DROP%20SERIES%20FROM%20revenue",
            "loopback",
        ),
        (f"http://localhost:{influx_port}/query?q=SHOW%20DATABASES", "loopback"),
        ("http://[::ffff:127.0.0.1]:9090/api/v1/query", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1:6379/", "private"),
    ]
    async with tenant(settings, clock) as attacker:
        for kind in ("SLACK", "WEBHOOK"):
            for i, (url, why) in enumerate(targets):
                channel = {"name": f"{kind}-{i}", "kind": kind, "url": url, "maxRetries": 0}
                message = _refused(await attacker.execute(CREATE, {"c": channel}))
                assert why in message
        smtp = {"name": "mail", "kind": "EMAIL", "smtpHost": "127.0.0.1", "smtpPort": 25,
                "sender": "a@example.com", "recipients": ["b@example.com"]}  # fmt: skip
        assert "loopback" in _refused(await attacker.execute(CREATE, {"c": smtp}), "smtpHost")
        # nothing refused was stored
        assert (await attacker.execute(CHANNELS))["data"]["channels"] == []
    # the victim's series are still there
    kept = influxdb_server.query("SELECT count(value) FROM revenue", db="victims").json()
    assert kept["results"][0]["series"][0]["values"][0][1] == 1


async def test_a_channel_changed_to_a_private_address_is_refused(
    tmp_path: Path, clock: Clock
) -> None:
    settings = make_settings(tmp_path / "data")
    async with tenant(settings, clock) as attacker:
        public = {"name": "hook", "kind": "WEBHOOK", "url": "http://93.184.216.34/hook"}
        created = await attacker.execute(CREATE, {"c": public})
        channel_id = created["data"]["createChannel"]["id"]
        private = {**public, "url": "http://192.168.0.1/admin"}
        assert "private" in _refused(
            await attacker.execute(UPDATE, {"id": channel_id, "c": private})
        )


@contextlib.asynccontextmanager
async def chatty_receiver() -> AsyncIterator[tuple[str, list[str]]]:
    """A receiver that answers with a body worth stealing, or a redirect."""
    hits: list[str] = []
    port = free_port()

    async def leak(request: Request) -> Response:
        hits.append("leak")
        return PlainTextResponse(f'bad request: match group {{v="{SECRET}"}}', 422)

    async def redirect(request: Request) -> Response:
        hits.append("redirect")
        return RedirectResponse(f"http://127.0.0.1:{port}/landing", status_code=307)

    async def landing(request: Request) -> Response:
        hits.append("landing")
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/leak", leak, methods=["POST"]),
            Route("/redirect", redirect, methods=["POST"]),
            Route("/landing", landing, methods=["POST"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        server.should_exit = True
        await task


async def test_test_channel_reports_an_outcome_never_the_receivers_reply(
    tmp_path: Path, clock: Clock
) -> None:
    # an operator allowed loopback (the receivers here listen there)
    settings = make_settings(tmp_path / "data", egress_allow=LOCAL_RECEIVERS)
    async with chatty_receiver() as (base, hits), tenant(settings, clock) as attacker:
        outcomes = {}
        for path in ("leak", "redirect"):
            channel = {"name": path, "kind": "SLACK", "url": f"{base}/{path}", "maxRetries": 0}
            created = await attacker.execute(CREATE, {"c": channel})
            channel_id = created["data"]["createChannel"]["id"]
            result = (await attacker.execute(TEST, {"id": channel_id}))["data"]["testChannel"]
            assert result["ok"] is False
            assert SECRET not in str(result)
            assert "match group" not in str(result)
            outcomes[path] = result
        assert outcomes["leak"]["outcome"] == "REFUSED"
        assert outcomes["leak"]["error"] == "HTTP 422: the receiver refused the notification"
        assert outcomes["redirect"]["outcome"] == "REDIRECTED"
        assert hits == ["leak", "redirect"]  # the redirect was not followed


async def test_a_stored_channel_is_checked_again_at_send_time(
    tmp_path: Path, clock: Clock, smtp_receiver: SmtpReceiver
) -> None:
    data = tmp_path / "data"
    allowed = make_settings(data, egress_allow=LOCAL_RECEIVERS)
    key = await new_key(allowed, "acme", "read,write,admin")
    mail = {"name": "mail", "kind": "EMAIL", "smtpHost": "127.0.0.1",
            "smtpPort": smtp_receiver.port, "sender": "a@example.com",
            "recipients": ["b@example.com"]}  # fmt: skip
    hook = {"name": "hook", "kind": "WEBHOOK", "url": "http://127.0.0.1:9/hook", "maxRetries": 0}
    async with alert_gateway(allowed, clock) as app, client_for(app, key) as acme:
        ids = [
            (await acme.execute(CREATE, {"c": c}))["data"]["createChannel"]["id"]
            for c in (mail, hook)
        ]
        first = (await acme.execute(TEST, {"id": ids[0]}))["data"]["testChannel"]
        assert first == {"ok": True, "outcome": "DELIVERED", "error": None}
        assert len(smtp_receiver.messages) == 1
    # the operator takes the allowance back: the same channels are refused when sending
    async with alert_gateway(make_settings(data), clock) as app, client_for(app, key) as acme:
        for channel_id in ids:
            result = (await acme.execute(TEST, {"id": channel_id}))["data"]["testChannel"]
            assert result["ok"] is False
            assert result["outcome"] == "BLOCKED"
            assert "loopback" in result["error"]
    assert len(smtp_receiver.messages) == 1


async def test_channel_kinds_are_delivered_through_the_policy(tmp_path: Path, clock: Clock) -> None:
    """The control for the tests above: an allowed receiver gets the notification."""
    settings = make_settings(tmp_path / "data", egress_allow=LOCAL_RECEIVERS)
    async with chatty_receiver() as (base, hits), tenant(settings, clock) as acme:
        channel = {"name": "ok", "kind": "SLACK", "url": f"{base}/landing"}
        created = await acme.execute(CREATE, {"c": channel})
        result = await acme.execute(TEST, {"id": created["data"]["createChannel"]["id"]})
        assert result["data"]["testChannel"] == {"ok": True, "outcome": "DELIVERED", "error": None}
        assert hits == ["landing"]
    async with httpx.AsyncClient() as http:  # the receiver is really gone
        with pytest.raises(httpx.ConnectError):
            await http.post(f"{base}/landing")
