"""The operator's tools on a running gateway: log levels for a while, on every
replica, and profiles of the process. Only an admin key of the operator's tenant
(`ANALYTICS_SELF_TENANT`, `_system` by default) may use them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from starlette.applications import Starlette

from tests.conftest import GraphQLClient, MakeKey

SET_LEVEL = """mutation($logger: String!, $level: String!, $ttl: String!) {
  setLogLevel(logger: $logger, level: $level, ttl: $ttl) { logger level until }
}"""
PROFILE = "mutation($s: Float!) { profile(seconds: $s) { id seconds samples path } }"


def _code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_only_the_operators_admin_key_may(gql: GraphQLClient, make_key: MakeKey) -> None:
    tenant_admin = GraphQLClient(gql.http, await make_key("acme", "read,write,admin"))
    operator_reader = GraphQLClient(gql.http, await make_key("_system", "read,write"))
    variables = {"logger": "analytics_gateway.access", "level": "DEBUG", "ttl": "1m"}
    for caller in (tenant_admin, operator_reader):
        assert _code(await caller.execute(SET_LEVEL, variables)) == "FORBIDDEN"
        assert _code(await caller.execute(PROFILE, {"s": 0.1})) == "FORBIDDEN"
    assert logging.getLogger("analytics_gateway.access").level != logging.DEBUG


async def test_a_level_holds_for_its_ttl_then_goes_back(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    operator = GraphQLClient(gql.http, await make_key("_system", "admin"))
    target = logging.getLogger("analytics_gateway.demo_probe")
    target.setLevel(logging.ERROR)
    body = await operator.execute(SET_LEVEL, {"logger": target.name, "level": "debug", "ttl": "1s"})
    assert body["data"]["setLogLevel"]["level"] == "DEBUG", body
    assert target.level == logging.DEBUG
    give_up = time.monotonic() + 30
    while target.level != logging.ERROR:
        assert time.monotonic() < give_up, "the level was never put back"
        await asyncio.sleep(0.05)

    for bad, field in (
        ({"level": "LOUD"}, "level"),
        ({"ttl": "0s"}, "ttl"),
        ({"ttl": "2d"}, "ttl"),
        ({"logger": "../etc"}, "logger"),
    ):
        variables = {"logger": target.name, "level": "INFO", "ttl": "1m", **bad}
        refused = await operator.execute(SET_LEVEL, variables)
        assert _code(refused) == "BAD_USER_INPUT", (bad, refused)
        assert refused["errors"][0]["extensions"]["field"] == field


async def test_a_profile_is_a_speedscope_file_one_at_a_time(
    app: Starlette, gql: GraphQLClient, make_key: MakeKey
) -> None:
    operator = GraphQLClient(gql.http, await make_key("_system", "admin"))
    profiles = app.state.gateway.services.profiles
    first = asyncio.create_task(operator.execute(PROFILE, {"s": 1.0}))
    give_up = time.monotonic() + 30
    while not profiles.recording:
        assert not first.done(), await first
        assert time.monotonic() < give_up, "the first profile never started"
        await asyncio.sleep(0.01)
    # a second one while the first records is refused
    assert _code(await operator.execute(PROFILE, {"s": 0.1})) == "RATE_LIMITED"
    recorded = (await first)["data"]["profile"]
    assert recorded["samples"] > 0
    served = await gql.http.get(recorded["path"])  # the in-process client is loopback
    assert served.status_code == 200
    speedscope = json.loads(served.content)
    assert speedscope["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert speedscope["shared"]["frames"]
    assert (await gql.http.get("/debug/profiles/nope")).status_code == 404
    assert _code(await operator.execute(PROFILE, {"s": 61})) == "BAD_USER_INPUT"
