"""The `analytics-gateway` command as users run it, against a running server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

import analytics_gateway
from tests.servers import GatewayProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics_gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_schema_command_matches_checked_in_sdl() -> None:
    result = cli("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text(), (
        "schema.graphql is stale: run `analytics-gateway schema > schema.graphql`"
    )


def test_keys_create_list_revoke_while_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = GatewayProcess(data, {"ANALYTICS_JSON_LOGS": "false"})
    server.start()
    try:
        created = cli(
            "keys", "create", "--tenant", "acme", "--scopes", "read", "--data-dir", str(data)
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("agk_")
        assert key not in (data / "config.sqlite3").read_bytes().decode("latin-1")

        query = {"query": "{ viewer }"}
        headers = {"Authorization": f"Bearer {key}"}
        ok = httpx.post(server.url + "/graphql", json=query, headers=headers)
        assert ok.status_code == 200
        assert ok.json()["data"]["viewer"]["tenant"] == "acme"
        assert ok.json()["data"]["viewer"]["scopes"] == ["read"]

        listed = cli("keys", "list", "--data-dir", str(data))
        key_id = key.split("_")[1]
        line = next(row for row in listed.stdout.splitlines() if row.startswith(key_id))
        assert "\tacme\tread\tactive" in line

        revoked = cli("keys", "revoke", key_id, "--data-dir", str(data))
        assert revoked.returncode == 0, revoked.stderr
        refused = httpx.post(server.url + "/graphql", json=query, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "revoked" in cli("keys", "list", "--data-dir", str(data)).stdout
    finally:
        server.stop()


def test_keys_create_reads_environment_and_rejects_bad_scope(tmp_path: Path) -> None:
    env = {"ANALYTICS_DATA_DIR": str(tmp_path / "envdata")}
    bad = cli("keys", "create", "--tenant", "acme", "--scopes", "root", env=env)
    assert bad.returncode == 2
    assert "unknown scope 'root'" in bad.stderr
    good = cli("keys", "create", "--tenant", "acme", "--scopes", "write", env=env)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "envdata" / "config.sqlite3").exists()
    unknown = cli("keys", "revoke", "nope", env=env)
    assert unknown.returncode == 1
    assert "no key with id nope" in unknown.stderr


def test_serve_demo_prints_graphiql_address_and_a_working_key(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path / "demo", {"ANALYTICS_JSON_LOGS": "false"})
    server.start("--demo")
    try:
        log = server.log.read_text()
        assert f"GraphiQL: http://127.0.0.1:{server.port}/graphql" in log
        assert f"Dashboards: http://127.0.0.1:{server.port}/" in log
        key = log.split("Demo API key (tenant 'demo'): ")[1].split()[0]
        body = {
            "query": '{ metrics(query: {name: "cpu_usage", last: "7d", step: "1d", '
            "aggregation: AVG}) { labels summary { count } } metricNames }"
        }
        response = httpx.post(
            server.url + "/graphql", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        data = response.json()["data"]
        assert {s["labels"]["host"] for s in data["metrics"]} == {"web-1", "web-2", "db-1"}
        assert all(s["summary"]["count"] >= 7 for s in data["metrics"])
        assert {
            "song_plays", "active_users", "revenue", "conversion_rate",
            "request_latency_ms", "error_rate", "cpu_usage",
        } <= set(data["metricNames"])  # fmt: skip
    finally:
        server.stop()


def test_ctrl_c_stops_the_server_cleanly_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C in the terminal (SIGINT): a graceful stop that exits 0, as uvicorn's own
    command does, not a `KeyboardInterrupt` traceback after the shutdown."""
    server = GatewayProcess(tmp_path / "gw", {"ANALYTICS_JSON_LOGS": "false"})
    server.start()
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    try:
        returncode = server.process.wait(120)  # generous: a busy machine
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Application shutdown complete" in log, log
    assert "Traceback" not in log, log
    assert returncode == 0, log


def test_serve_with_an_operator_listener_keeps_metrics_off_the_public_port(
    tmp_path: Path,
) -> None:
    admin = free_port()
    server = GatewayProcess(
        tmp_path / "ops", {"ANALYTICS_JSON_LOGS": "false", "ANALYTICS_ADMIN_PORT": str(admin)}
    )
    server.start()
    try:
        assert httpx.get(server.url + "/metrics", timeout=10).status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{admin}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert "gateway_http_requests_total" in scraped.text
        assert f"Operator endpoints: http://127.0.0.1:{admin}/metrics" in server.log.read_text()
    finally:
        server.stop()


def refused_start(result: subprocess.CompletedProcess[str], says: str) -> None:
    """`serve` stopped before saying it started, with one plain line of why."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "GraphiQL" not in result.stdout


def test_serve_refuses_a_port_that_is_not_one(tmp_path: Path) -> None:
    refused_start(
        cli("serve", "--port", "99999", "--data-dir", str(tmp_path)), "99999 is not a port"
    )


def test_serve_refuses_a_data_directory_it_cannot_use(tmp_path: Path) -> None:
    a_file = tmp_path / "somefile"
    a_file.write_text("x")
    port = str(free_port())
    refused_start(
        cli("serve", "--port", port, "--data-dir", str(a_file)), "cannot use the data directory"
    )
    refused_start(
        cli("serve", "--port", port, "--data-dir", "/proc/nope"), "cannot use the data directory"
    )


def test_a_second_serve_on_one_directory_or_one_port_says_why(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path / "first", {"ANALYTICS_JSON_LOGS": "false"})
    server.start()
    try:
        refused_start(
            cli("serve", "--port", str(free_port()), "--data-dir", str(server.data_dir)),
            "another gateway is serving the data directory",
        )
        refused_start(
            cli("serve", "--port", str(server.port), "--data-dir", str(tmp_path / "second")),
            f"127.0.0.1:{server.port} is in use",
        )
        assert httpx.get(server.url + "/healthz").status_code == 200  # the first one unharmed
    finally:
        server.stop()


def test_version_and_help_say_what_they_should() -> None:
    version = cli("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"analytics-gateway {analytics_gateway.__version__}"
    listing = " ".join(cli("keys", "list", "--help").stdout.split())  # unwrapped
    assert "only this tenant's keys" in listing
    assert "config store holds the keys" in listing
