"""Self-monitoring: the gateway records its host and itself in the operator tenant,
`analytics-gateway agent` pushes any host's metrics, the `gateway_health` preset
shows both, and `enableHealthAlerts` sets rules on them up once.

Everything runs for real: the collector inside a served app, the agent as a
subprocess (`python -m analytics_gateway agent`), a gateway process started
after the agent. With `--backends production` every gateway stores in
InfluxDB, Elasticsearch and Redis (subprocess gateways get their URLs as
`ANALYTICS_*` variables).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.self_monitoring import series
from analytics_gateway.self_monitoring.health_alerts import HEALTH_RULES
from analytics_gateway.self_monitoring.host import mount_point
from tests import conftest
from tests.conftest import make_settings, new_key, open_ws, serving, started
from tests.servers import GatewayProcess, free_port

T = TypeVar("T")
HOSTNAME = socket.gethostname()
OPERATOR = "_system"
DEADLINE_SECONDS = 180.0

SERIES = """query Series($name: String!, $labels: JSON) {
  metrics(query: {name: $name, labels: $labels, last: "15m"}) {
    labels data summary { count min max last }
  }
}"""
NAMES = "{ metricNames }"


def store_env() -> dict[str, str]:
    """The stores of this run (production: the real servers) as `serve` reads them."""
    return {f"ANALYTICS_{name.upper()}": url for name, url in conftest._store_urls.items()}


async def graphql(
    http: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def series_of(
    http: httpx.AsyncClient, key: str, name: str, labels: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    body = await graphql(http, key, SERIES, {"name": name, "labels": labels})
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"]["metrics"]
    return found


async def poll(
    probe: Callable[[], Awaitable[T | None]],
    what: str | Callable[[], str],
    deadline: float = DEADLINE_SECONDS,
) -> T:
    """`probe()` until it returns something (not None), or fail saying `what` never came."""
    give_up = time.monotonic() + deadline
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > give_up:
            pytest.fail(f"{what if isinstance(what, str) else what()}: not within {deadline:g}s")
        await asyncio.sleep(0.25)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Starlette, str]]:
    """A gateway recording itself every half second, under uvicorn: (app, base URL)."""
    settings = make_settings(tmp_path / "data", self_interval_seconds=0.5)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as address,
    ):
        yield app, f"http://{address}"


async def agent_process(*args: str, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "analytics_gateway", "agent", *args,
            stdout=out, stderr=out, env=dict(os.environ),
        )  # fmt: skip


async def stop_agent(process: asyncio.subprocess.Process, log: Path) -> str:
    """SIGTERM, as a service manager stops it: exits 0, saying what it delivered."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(process.wait(), 60)
    said = await asyncio.to_thread(log.read_text)
    assert code == 0, said
    assert "Traceback" not in said
    return said


# -- the collector -------------------------------------------------------------------------


async def test_the_collector_records_every_family_in_the_operator_tenant_alone(
    served: tuple[Starlette, str],
) -> None:
    app, base = served
    settings = app.state.gateway.settings
    operator = await new_key(settings, OPERATOR, "read")
    acme = await new_key(settings, "acme", "ingest,read,write")
    instance = f"{HOSTNAME}:{settings.port}"
    ws = await open_ws(base.removeprefix("http://"), acme)
    try:
        await ws.subscribe('subscription { metricPoints(name: "x") { value } }')
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            # errors of both kinds: a GraphQL one by its code, a REST refusal by its status
            bad = await graphql(
                http, acme, '{ metrics(query: {name: "x", last: "soon"}) { name } }'
            )
            assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert (await http.get("/analytics/metrics/aggregated?name=x")).status_code == 401

            wanted = set(series.HOST_METRICS) | set(series.GATEWAY_METRICS)
            if psutil.disk_io_counters() is None:  # a kernel that counts no disk I/O
                wanted -= {series.DISK_READ, series.DISK_WRITE}

            async def every_family() -> set[str] | None:
                names = set((await graphql(http, operator, NAMES))["data"]["metricNames"])
                return names if wanted <= names else None

            await poll(every_family, "every series family in the operator tenant")

            async def with_a_subscription() -> list[dict[str, Any]] | None:
                found = await series_of(http, operator, series.SUBSCRIPTIONS)
                return found if found and found[0]["summary"]["max"] >= 1 else None

            await poll(with_a_subscription, "the open subscription counted")

            async def both_error_codes() -> dict[str, float] | None:
                found = await series_of(http, operator, series.ERRORS)
                peaks = {s["labels"]["code"]: s["summary"]["max"] for s in found}
                seen = peaks.get("BAD_USER_INPUT", 0) > 0 and peaks.get("HTTP_401", 0) > 0
                return peaks if seen else None

            await poll(both_error_codes, "the errors counted by code")

            for name in sorted(wanted):
                found = await series_of(http, operator, name)
                assert found, name
                for one in found:
                    assert one["labels"]["host"] == HOSTNAME, (name, one["labels"])
                    if name in series.GATEWAY_METRICS:
                        assert one["labels"]["instance"] == instance, (name, one["labels"])
                    assert one["summary"]["count"] > 0
            [cpu] = await series_of(http, operator, series.CPU_USAGE)
            assert 0 <= cpu["summary"]["min"] <= cpu["summary"]["max"] <= 100
            [memory] = await series_of(http, operator, series.MEMORY_USAGE)
            assert 0 < memory["summary"]["last"] <= 100
            [disk] = await series_of(http, operator, series.DISK_USAGE)
            assert disk["labels"]["path"] == str(mount_point(settings.data_dir))
            [requests] = await series_of(http, operator, series.REQUESTS)
            assert requests["summary"]["max"] > 0
            points = await series_of(http, operator, series.INGESTED, {"kind": "point"})
            assert points[0]["summary"]["max"] > 0  # its own points are ingested like any
            [threads] = await series_of(http, operator, series.THREADS)
            assert threads["summary"]["min"] >= 1
            [p50] = await series_of(http, operator, series.LATENCY_P50)
            [p95] = await series_of(http, operator, series.LATENCY_P95)
            assert 0 < p50["summary"]["max"] <= p95["summary"]["max"]
            generations = await series_of(http, operator, series.GC_COLLECTIONS)
            assert {s["labels"]["generation"] for s in generations} == {"0", "1", "2"}
            [backlog] = await series_of(http, operator, series.BUFFER_ENTRIES)
            assert backlog["summary"]["max"] == 0  # nothing waits: every store answers

            # another tenant sees none of it, by GraphQL or by REST
            names = set((await graphql(http, acme, NAMES))["data"]["metricNames"])
            assert not names & wanted
            assert await series_of(http, acme, series.CPU_USAGE) == []
            headers = {"Authorization": f"Bearer {acme}"}
            refused = await http.get(
                f"/analytics/metrics/{OPERATOR}?name=cpu_usage", headers=headers
            )
            assert refused.status_code == 403
            mine = await http.get(
                f"/analytics/metrics/{OPERATOR}?name=cpu_usage",
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert mine.status_code == 200
            assert mine.json()["series"][0]["labels"] == {"host": HOSTNAME}
    finally:
        await ws.close()


# -- the agent -------------------------------------------------------------------------------


HOST_PANELS = ("CPU (%) by host", "Memory (%) by host")
DASHBOARD = """query Board($id: ID!) {
  dashboard(id: $id, timeRange: "15m") {
    widgets {
      title type
      data {
        ... on ChartData { series { labels summary { count } } }
        ... on KpiData { value }
      }
    }
  }
}"""


async def test_the_agent_feeds_the_gateway_health_dashboard(
    served: tuple[Starlette, str], tmp_path: Path
) -> None:
    app, base = served
    settings = app.state.gateway.settings
    pusher = await new_key(settings, OPERATOR, "ingest")
    operator = await new_key(settings, OPERATOR, "read,write")
    log = tmp_path / "agent.log"
    host = {"host": "agent-under-test"}
    process = await agent_process(
        "--url", base, "--key", pusher, "--interval", "5s", "--hostname", host["host"], log=log
    )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:

            async def thirty_seconds_of_samples() -> list[dict[str, Any]] | None:
                assert process.returncode is None, log.read_text()
                found = await series_of(http, operator, series.CPU_USAGE, host)
                # the first sample after 1 s, then one every 5 s: 7 cover 30 s
                return found if found and found[0]["summary"]["count"] >= 7 else None

            [cpu] = await poll(thirty_seconds_of_samples, "30 s of the agent's samples")
            assert 0 <= cpu["summary"]["min"] <= cpu["summary"]["max"] <= 100
            said = await stop_agent(process, log)
            assert f"{host['host']}'s metrics to {base}/write every 5s" in said
            assert "stopped after delivering" in said

            families = [
                series.MEMORY_USAGE, series.MEMORY_USED, series.MEMORY_AVAILABLE,
                series.DISK_USAGE, series.DISK_USED, series.DISK_FREE,
                series.NETWORK_SENT, series.NETWORK_RECEIVED,
            ]  # fmt: skip
            if psutil.disk_io_counters() is not None:
                families += [series.DISK_READ, series.DISK_WRITE]
            for name in families:
                [one] = await series_of(http, operator, name, host)
                assert one["summary"]["count"] >= 6, name
                on_disk = name in (series.DISK_USAGE, series.DISK_USED, series.DISK_FREE)
                assert one["labels"] == ({**host, "path": "/"} if on_disk else host), name
            [used] = await series_of(http, operator, series.MEMORY_USED, host)
            [available] = await series_of(http, operator, series.MEMORY_AVAILABLE, host)
            assert used["summary"]["last"] + available["summary"]["last"] == pytest.approx(
                psutil.virtual_memory().total, rel=0.01
            )

            created = await graphql(
                http,
                operator,
                'mutation { createRealtimeDashboard(widgets: ["gateway_health"]) { id } }',
            )
            board_id = created["data"]["createRealtimeDashboard"]["id"]
            board = await graphql(http, operator, DASHBOARD, {"id": board_id})
            assert "errors" not in board, board
            widgets = {w["title"]: w for w in board["data"]["dashboard"]["widgets"]}
            for title in HOST_PANELS:
                by_host = {
                    s["labels"]["host"]: s["summary"]["count"]
                    for s in widgets[title]["data"]["series"]
                }
                assert by_host.get(host["host"], 0) > 0, (title, by_host)
                assert by_host.get(HOSTNAME, 0) > 0, (title, by_host)  # the gateway's own
            for title in ("Requests per second by instance", "Latency p95 (ms) by instance"):
                assert sum(s["summary"]["count"] for s in widgets[title]["data"]["series"]) > 0
            assert widgets["Error ratio"]["data"]["value"] is not None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("scopes", "says"),
    [
        (None, "the gateway refused the key (401: invalid or revoked API key); check --key"),
        ("read", "the key may not write points (403: this API key lacks the 'ingest' scope)"),
    ],
)
async def test_an_agent_whose_key_is_refused_exits_2_saying_why(
    served: tuple[Starlette, str], tmp_path: Path, scopes: str | None, says: str
) -> None:
    app, base = served
    if scopes is None:
        key = "agk_000000000000_not-a-key"
    else:
        key = await new_key(app.state.gateway.settings, OPERATOR, scopes)
    log = tmp_path / "agent.log"
    process = await agent_process("--url", base, "--key", key, "--interval", "5s", log=log)
    try:
        code = await asyncio.wait_for(process.wait(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = log.read_text()
    assert code == 2, said
    assert f"agent: {says}" in said
    assert "Traceback" not in said


async def test_an_agent_started_before_the_gateway_delivers_once_it_is_up(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "gateway"
    gateway = GatewayProcess(data_dir, {"ANALYTICS_JSON_LOGS": "false", **store_env()})
    pusher = await new_key(make_settings(data_dir), OPERATOR, "ingest")
    reader = await new_key(make_settings(data_dir), OPERATOR, "read")
    log = tmp_path / "agent.log"
    host = {"host": "agent-before-gateway"}
    process = await agent_process(
        "--url", gateway.url, "--key", pusher, "--interval", "1s", "--hostname", host["host"],
        log=log,
    )  # fmt: skip
    try:

        async def retried_twice() -> bool | None:
            assert process.returncode is None, log.read_text()
            return True if log.read_text().count("does not answer") >= 2 else None

        await poll(retried_twice, "the agent retrying while nothing listens")
        up_since_ms = time.time() * 1000
        await asyncio.to_thread(gateway.start)
        try:
            async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:

                async def delivered() -> list[float] | None:
                    assert process.returncode is None, log.read_text()
                    found = await series_of(http, reader, series.CPU_USAGE, host)
                    stamps: list[float] = found[0]["data"]["t"] if found else []
                    late = [t for t in stamps if t > up_since_ms]
                    return stamps if late else None  # one sampled since it came up, too

                stamps = await poll(delivered, "the agent's points in the started gateway")
            # the samples taken while the gateway was down arrived too, not only new ones
            assert min(stamps) < up_since_ms - 1000, (stamps, up_since_ms)
            said = await stop_agent(process, log)
            assert f"delivered to {gateway.url}/write" in said
        finally:
            await asyncio.to_thread(gateway.stop)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_an_agent_run_once_sends_one_sample_and_says_when_it_could_not(
    served: tuple[Starlette, str], tmp_path: Path
) -> None:
    app, base = served
    key = await new_key(app.state.gateway.settings, OPERATOR, "ingest,read")
    log = tmp_path / "agent.log"
    host = {"host": "agent-once"}
    once = await agent_process(
        "--url", base, "--key", key, "--once", "--hostname", host["host"], log=log
    )
    assert await asyncio.wait_for(once.wait(), 120) == 0, log.read_text()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for name in (series.CPU_USAGE, series.MEMORY_USAGE, series.NETWORK_RECEIVED):
            [one] = await series_of(http, key, name, host)
            assert one["summary"]["count"] == 1, name
    nowhere = f"http://127.0.0.1:{free_port()}"
    missed = await agent_process("--url", nowhere, "--key", key, "--once", log=log)
    assert await asyncio.wait_for(missed.wait(), 120) == 1
    said = log.read_text()
    assert "agent: not delivered: the gateway does not answer" in said
    assert "Traceback" not in said


async def test_an_agent_pointed_at_something_else_exits_2_saying_why(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    nothing = f"http://127.0.0.1:{free_port()}"
    bad_url = await agent_process("--url", "gateway:8000", "--key", "k", log=log)
    assert await asyncio.wait_for(bad_url.wait(), 60) == 2
    assert "--url 'gateway:8000': give the gateway's http:// or https:// address" in log.read_text()
    bad_interval = await agent_process(
        "--url", nothing, "--key", "k", "--interval", "soon", log=log
    )
    assert await asyncio.wait_for(bad_interval.wait(), 60) == 2
    assert "--interval: 'soon' is not a duration" in log.read_text()
    assert "Traceback" not in log.read_text()


# -- health alerts ---------------------------------------------------------------------------


ENABLE = """mutation Enable($channels: [String!]) {
  enableHealthAlerts(channels: $channels) { id name condition channels version }
}"""
ALERTS = "{ alerts { id name state } }"


async def test_enable_health_alerts_needs_the_operators_admin_and_creates_each_rule_once(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", self_interval_seconds=0.5, egress_allow="127.0.0.1")
    admin = await new_key(settings, OPERATOR, "admin")
    writer = await new_key(settings, OPERATOR, "ingest,read,write")
    tenant_admin = await new_key(settings, "acme", "admin")
    app = create_app(settings, registry=CollectorRegistry())
    async with (
        started(app),
        httpx.AsyncClient(
            transport=conftest.asgi_transport(app), base_url="http://gateway", timeout=60
        ) as http,
    ):
        for key in (writer, tenant_admin):
            refused = await graphql(http, key, ENABLE)
            assert refused["data"] is None
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert (await graphql(http, writer, ALERTS))["data"]["alerts"] == []

        first = (await graphql(http, admin, ENABLE))["data"]["enableHealthAlerts"]
        expected = {rule.id: rule.spec for rule in HEALTH_RULES}
        assert {r["id"]: (r["name"], r["condition"]) for r in first} == {
            rule_id: (spec.name, spec.condition) for rule_id, spec in expected.items()
        }
        assert len(expected) == 6
        again = (await graphql(http, admin, ENABLE))["data"]["enableHealthAlerts"]
        assert again == first  # nothing new, nothing changed
        listed = (await graphql(http, writer, ALERTS))["data"]["alerts"]
        assert sorted(a["id"] for a in listed) == sorted(expected)

        channel = await graphql(
            http,
            admin,
            'mutation { createChannel(input: {name: "ops", kind: WEBHOOK, '
            'url: "http://127.0.0.1:9/hook"}) { id } }',
        )
        assert "errors" not in channel, channel
        routed = (await graphql(http, admin, ENABLE, {"channels": ["ops"]}))["data"]
        assert all(r["channels"] == ["ops"] for r in routed["enableHealthAlerts"])
        assert [r["version"] for r in routed["enableHealthAlerts"]] == [
            r["version"] + 1 for r in first
        ]
        same = (await graphql(http, admin, ENABLE, {"channels": ["ops"]}))["data"]
        assert same == routed
        unknown = await graphql(http, admin, ENABLE, {"channels": ["nope"]})
        assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        listed = (await graphql(http, writer, ALERTS))["data"]["alerts"]
        assert len(listed) == 6

        # the rules evaluate on what self-monitoring records, without an error
        registry = app.state.gateway.metrics.registry

        states: dict[str, str] = {}

        async def evaluated() -> bool | None:
            done = registry.get_sample_value("gateway_alert_evaluations_total") or 0
            alerts = (await graphql(http, writer, ALERTS))["data"]["alerts"]
            states.update({a["id"]: a["state"] for a in alerts})
            healthy = not {"ERROR", "NODATA"} & set(states.values())
            return True if done >= 2 * len(expected) and healthy else None

        await poll(evaluated, lambda: f"two rounds of the health rules with data ({states})")
