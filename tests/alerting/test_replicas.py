"""Two gateway processes on one Redis: each rule is evaluated by exactly one of them,
and when that one dies the other takes its rules over within one interval."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics_gateway.auth import create_key, parse_scopes
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from tests.servers import GatewayProcess, RedisServer

RULES = 16
INTERVAL_S = 5.0
LEASE_S = 1.5
# Generous: two gateways, Redis and the test share two cores, and each new gateway
# warms its ML stack up first. The design's bounds (a takeover within a lease, a
# firing within an interval) are far below these; the test checks what happens.
DEADLINE_S = 90.0


def _owned(process: GatewayProcess) -> float:
    text = httpx.get(process.url + "/metrics", timeout=5).text
    match = re.search(r"^gateway_alert_rules_owned (\S+)$", text, re.M)
    return float(match.group(1)) if match else -1.0


def _gql(process: GatewayProcess, key: str, query: str, variables: Any = None) -> Any:
    response = httpx.post(
        process.url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _ingest(process: GatewayProcess, key: str, value: float) -> None:
    response = httpx.post(
        process.url + "/analytics/metrics",
        json=[{"name": "load", "value": value}],
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _until(check: Any, timeout: float, what: str, seen: Any = None) -> float:
    """Poll `check` until true; return the seconds it took. On failure the message
    carries what `seen()` shows, so a miss on a busy machine says where it stuck."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}; last seen: {seen() if seen else '-'}")


@pytest.fixture
def replicas(tmp_path: Path, redis: RedisServer) -> Iterator[tuple[GatewayProcess, ...]]:
    base = redis.url.rsplit("/", 1)[0]
    env = {
        "ANALYTICS_CONFIG_URL": f"{base}/0",
        "ANALYTICS_BROKER_URL": f"{base}/1",
        "ANALYTICS_ALERT_LEASE_SECONDS": str(LEASE_S),
        "ANALYTICS_ALERT_TICK_SECONDS": "0.2",
        "ANALYTICS_JSON_LOGS": "false",
    }
    processes = tuple(GatewayProcess(tmp_path / name, env) for name in ("a", "b"))
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()


async def test_each_rule_has_one_evaluator_and_moves_when_it_dies(
    replicas: tuple[GatewayProcess, GatewayProcess], redis: RedisServer
) -> None:
    a, b = replicas
    base = redis.url.rsplit("/", 1)[0]
    config = build_config_store(Settings.from_env({}, config_url=f"{base}/0"))
    _, key = await create_key(config, "acme", parse_scopes("ingest,read,write"))
    await config.close()
    create = "mutation($r: AlertRuleInput!) { createAlert(input: $r) { id } }"
    for i in range(RULES):
        rule = {"name": f"load {i}", "condition": "load > 1", "interval": f"{INTERVAL_S}s"}
        _gql(a, key, create, {"r": rule})
    for process in replicas:
        _ingest(process, key, 5.0)  # each process has its own metric store

    _until(lambda: _owned(a) + _owned(b) == RULES and _owned(a) > 0 and _owned(b) > 0,
           DEADLINE_S, "both processes own a share and together all rules")  # fmt: skip
    listing = "{ alerts { id state evaluator } }"
    pids = {a.process.pid: "a", b.process.pid: "b"}  # type: ignore[union-attr]

    def evaluators() -> dict[str, str]:
        found = _gql(b, key, listing)["alerts"]
        return {
            alert["id"]: pids.get(int(alert["evaluator"].split("-")[-2]), "?")
            if alert["evaluator"]
            else "-"
            for alert in found
        }

    owners = evaluators()
    assert sorted(owners.values()).count("a") == _owned(a)
    assert sorted(owners.values()).count("b") == _owned(b)
    _until(
        lambda: all(x["state"] == "FIRING" for x in _gql(b, key, listing)["alerts"]),
        DEADLINE_S,
        "every rule fired, each on its own evaluator",
        lambda: (_gql(b, key, listing), _owned(a), _owned(b)),
    )

    assert a.process is not None
    a.process.kill()  # dies without handing its leases over
    a.process.wait()
    a.process = None
    _until(lambda: _owned(b) == RULES, DEADLINE_S, "b owns every rule")
    assert set(evaluators().values()) == {"b"}

    _ingest(b, key, 0.0)  # b now evaluates a's former rules too
    _until(
        lambda: all(x["state"] == "RESOLVED" for x in _gql(b, key, listing)["alerts"]),
        DEADLINE_S,
        "b resolved every rule",
        lambda: _gql(b, key, listing),
    )
