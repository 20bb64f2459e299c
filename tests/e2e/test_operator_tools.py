"""The operator's tools on a running gateway: log levels for a while, on every
replica, and profiles of the process. Only an admin key of the operator's tenant
(`ANALYTICS_SELF_TENANT`, `_system` by default) may use them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from analytics_gateway.operator.log_levels import KIND, LevelChange, LogLevels
from tests.conftest import GraphQLClient, MakeKey, _store_urls, make_settings, new_key
from tests.servers import GatewayProcess, RedisServer

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


async def test_a_replica_follows_the_shared_changes(app: Starlette) -> None:
    """What another replica does with the stored changes: it takes a live one, even one
    made before it started; it drops an expired or malformed one and keeps going. (Its
    operator tenant is "ops", so the app's own replica leaves these loggers alone.)"""
    services = app.state.gateway.services
    config, clock = services.backends.config, services.clock
    target = logging.getLogger("analytics_gateway.replica_probe")
    target.setLevel(logging.ERROR)
    until = clock() + 60_000
    await config.put_document(KIND, "ops", target.name, {"level": "DEBUG", "until_ms": until})
    await config.put_document(KIND, "ops", "gone.logger", {"level": "INFO", "until_ms": 1})
    await config.put_document(KIND, "ops", "odd.logger", {"level": "LOUD", "until_ms": until})
    await config.put_document(KIND, "acme", "acme.logger", {"level": "DEBUG", "until_ms": until})
    replica = LogLevels(config, "ops", clock, sync_seconds=0.05)
    await replica.start()
    try:
        assert target.level == logging.DEBUG  # made before the replica started
        assert logging.getLogger("acme.logger").level == logging.NOTSET  # not the operator's
        assert await config.get_document(KIND, "ops", "gone.logger") is None
        # a change made through another replica arrives within the sync interval
        await config.put_document(
            KIND, "ops", target.name, {"level": "WARNING", "until_ms": clock() + 60_000}
        )
        give_up = time.monotonic() + 30
        while target.level != logging.WARNING:
            assert time.monotonic() < give_up, "the replica never took the new level"
            await asyncio.sleep(0.02)
    finally:
        await replica.stop()
    assert target.level == logging.ERROR  # a stopping replica puts its loggers back


async def test_a_change_is_kept_for_the_other_replicas(app: Starlette) -> None:
    services = app.state.gateway.services
    change = LevelChange("analytics_gateway.kept_probe", "DEBUG", services.clock() + 5_000)
    await services.log_levels.change(change)
    kept = await services.backends.config.get_document(KIND, "_system", change.logger)
    assert kept is not None
    assert kept[1] == {"level": "DEBUG", "until_ms": change.until_ms}


def _logged(process: GatewayProcess, rid: str) -> bool:
    return rid in process.log.read_text()


async def test_a_level_set_on_one_replica_holds_on_the_other(
    tmp_path: Path, redis: RedisServer
) -> None:
    shared_config = tmp_path / "config.sqlite3"
    config_url = _store_urls.get("config_url") or f"sqlite:///{shared_config}"
    env = {
        **{f"ANALYTICS_{k.upper()}": v for k, v in _store_urls.items()},
        "ANALYTICS_BROKER_URL": redis.url,
        "ANALYTICS_CONFIG_URL": config_url,
        "ANALYTICS_JSON_LOGS": "true",
    }
    key = await new_key(
        make_settings(tmp_path / "a", config_url=config_url), tenant="_system", scopes="admin"
    )
    a, b = GatewayProcess(tmp_path / "a", env), GatewayProcess(tmp_path / "b", env)
    await asyncio.to_thread(a.start)
    await asyncio.to_thread(b.start)
    try:
        async with httpx.AsyncClient(timeout=30) as http:

            async def probe() -> str:
                rid = uuid.uuid4().hex
                response = await http.get(b.url + "/healthz", headers={"x-request-id": rid})
                assert response.status_code == 200
                return rid

            assert _logged(b, await probe())  # the access log is on
            changed = await http.post(
                a.url + "/graphql",
                json={
                    "query": SET_LEVEL,
                    "variables": {
                        "logger": "analytics_gateway.access",
                        "level": "WARNING",
                        "ttl": "10s",
                    },
                },
                headers={"Authorization": f"Bearer {key}"},
            )
            assert "errors" not in changed.json(), changed.text
            set_at = time.monotonic()
            # B says when it takes the level and when it puts it back (its own warnings)
            taken = "log level of analytics_gateway.access set to WARNING"
            back = "log level of analytics_gateway.access put back"
            give_up = set_at + 30
            while taken not in b.log.read_text():
                assert time.monotonic() < give_up, "replica B never took the level"
                await asyncio.sleep(0.1)
            quiet = await probe()  # while the level holds
            give_up = time.monotonic() + 60
            while back not in b.log.read_text():
                assert time.monotonic() < give_up, "replica B never put the level back"
                await asyncio.sleep(0.2)
            assert time.monotonic() - set_at > 5  # not before its time
            assert not _logged(b, quiet)
            give_up = time.monotonic() + 30
            while not _logged(b, await probe()):  # the access log is on again
                assert time.monotonic() < give_up, "B's access log stayed off"
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)
