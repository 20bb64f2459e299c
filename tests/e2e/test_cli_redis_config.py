"""`analytics-gateway keys` against a Redis config store shared with a running gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import GatewayProcess, RedisServer


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command as users run it: settings from `ANALYTICS_*` variables only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    return subprocess.run(
        [sys.executable, "-m", "analytics_gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**clean, **env},
        check=False,
    )


def test_keys_made_by_the_cli_work_on_the_gateway_until_revoked(
    redis: RedisServer, tmp_path: Path
) -> None:
    url_file = tmp_path / "config-url"
    url_file.write_text(redis.url + "\n")
    by_value = {"ANALYTICS_CONFIG_URL": redis.url}
    by_file = {"ANALYTICS_CONFIG_URL_FILE": str(url_file)}
    workdir = tmp_path / "cli"
    workdir.mkdir()
    server = GatewayProcess(tmp_path / "data", {"ANALYTICS_JSON_LOGS": "false", **by_value})
    server.start()
    try:
        created = cli(workdir, by_value, "keys", "create", "--tenant", "acme", "--scopes", "read")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        key_id = key.split("_")[1]
        other = cli(workdir, by_file, "keys", "create", "--tenant", "globex")
        assert other.returncode == 0, other.stderr

        query = {"query": "{ viewer }"}
        headers = {"Authorization": f"Bearer {key}"}
        ok = httpx.post(server.url + "/graphql", json=query, headers=headers)
        assert ok.status_code == 200, ok.text
        assert ok.json()["data"]["viewer"]["tenant"] == "acme"

        listed = cli(workdir, by_file, "keys", "list", "--tenant", "acme")
        assert listed.returncode == 0, listed.stderr
        assert [row.split("\t")[:4] for row in listed.stdout.splitlines()] == [
            [key_id, "acme", "read", "active"]
        ]
        everyone = cli(workdir, by_value, "keys", "list").stdout
        assert {row.split("\t")[1] for row in everyone.splitlines()} == {"acme", "globex"}

        revoked = cli(workdir, by_file, "keys", "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        refused = httpx.post(server.url + "/graphql", json=query, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        relisted = cli(workdir, by_value, "keys", "list", "--tenant", "acme").stdout
        assert "\trevoked\t" in relisted

        unknown = cli(workdir, by_value, "keys", "revoke", "nope")
        assert unknown.returncode == 1
        assert "no key with id nope" in unknown.stderr
    finally:
        server.stop()
    # nothing fell back to the embedded SQLite store
    assert not (tmp_path / "data" / "config.sqlite3").exists()
    assert not (workdir / "data").exists()


def test_cli_reports_an_unreachable_config_redis(tmp_path: Path, redis: RedisServer) -> None:
    redis.stop()
    env = {"ANALYTICS_CONFIG_URL": redis.url, "ANALYTICS_BACKEND_TIMEOUT_SECONDS": "1"}
    result = cli(tmp_path, env, "keys", "list")
    assert result.returncode == 2
    assert "config store (redis) is unavailable" in result.stderr
