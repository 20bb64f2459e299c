"""The audit trail end to end, embedded and (with `--backends production`) on Redis.

Every mutation of the schema is found by walking the schema and called with dummy
arguments made from its argument types: each must leave an entry naming it, with
the code its answer carried. Admins read their own tenant's trail only; the CLI's
`audit verify` names an edited and a deleted entry, and a rewritten chain against a
head kept elsewhere. Sign-ins (HTTP and WebSocket) and the CLI's changes and reads of
tenants' metadata are recorded, and the chains still verify after them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway import cli
from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.observability import GatewayMetrics
from analytics_gateway.schema import build_schema
from tests.audit.tamper import delete_entry, edit_entry, erase_chain
from tests.conftest import (
    GraphQLClient,
    MakeKey,
    asgi_transport,
    gateway,
    make_settings,
    new_key,
    open_ws,
    serving,
    started,
)
from tests.e2e.test_oidc import AUDIENCE, FIRST_KEYS
from tests.servers import OidcProvider, oidc_provider

AUDIT_LOG = """
query($first: Int!, $after: String, $action: String, $actor: String, $since: DateTime) {
  auditLog(first: $first, after: $after, action: $action, actor: $actor, since: $since) {
    edges { cursor node { id time actor tenant action target requestId outcome count } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EXPORT = "exportAuditLog"
SIGN_IN = "signIn"
INGEST = 'mutation { ingestMetrics(points: [{name: "m", value: 1}]) { accepted } }'
SCALARS: dict[str, Any] = {
    "String": "x",
    "ID": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2024-01-01T00:00:00Z",
    "JSON": {},
    "SeriesData": {"t": [1_700_000_000_000], "v": [1.0]},
}


def dummy(kind: GraphQLInputType, depth: int = 0) -> Any:
    """A value of `kind`: required input fields only, enums their first value."""
    if isinstance(kind, GraphQLNonNull):
        return dummy(kind.of_type, depth)
    if isinstance(kind, GraphQLList):
        return [dummy(kind.of_type, depth)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return SCALARS.get(kind.name, "x")
    assert isinstance(kind, GraphQLInputObjectType), kind
    assert depth < 10, "input objects nest too deep for dummies"
    if kind.is_one_of:  # exactly one field, whichever
        name, field = next(iter(kind.fields.items()))
        return {name: dummy(field.type, depth + 1)}
    return {
        name: dummy(field.type, depth + 1)
        for name, field in kind.fields.items()
        if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
    }


def mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every root mutation field: a document calling it with its required arguments."""
    schema = build_schema(Settings(), GatewayMetrics(CollectorRegistry()))._schema
    assert schema.mutation_type is not None
    calls = {}
    for name, field in schema.mutation_type.fields.items():
        required = {
            arg: spec
            for arg, spec in field.args.items()
            if isinstance(spec.type, GraphQLNonNull) and spec.default_value is Undefined
        }
        declared = ", ".join(f"${arg}: {spec.type}" for arg, spec in required.items())
        passed = ", ".join(f"{arg}: ${arg}" for arg in required)
        selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
        document = (
            f"mutation{f'({declared})' if declared else ''} "
            f"{{ {name}{f'({passed})' if passed else ''}{selection} }}"
        )
        calls[name] = (document, {arg: dummy(spec.type) for arg, spec in required.items()})
    return calls


async def audit_log(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    body = await gql.execute(AUDIT_LOG, {"first": 1000, **variables})
    return body


def key_id(key: str) -> str:
    return key.split("_")[1]


def actions(body: dict[str, Any]) -> list[str]:
    """The actions of an `auditLog` answer, sign-ins aside (their place in the chain
    depends on when their write, off the request's path, got the tenant's lock)."""
    return [
        e["node"]["action"]
        for e in body["data"]["auditLog"]["edges"]
        if e["node"]["action"] != SIGN_IN
    ]


async def settled(app: Starlette) -> None:
    """Every sign-in noted so far is in the store."""
    await app.state.gateway.services.audit.settle()


async def test_every_mutation_of_the_schema_leaves_an_entry_with_its_outcome(
    tmp_path: Path,
) -> None:
    # a short deadline: a mutation still running then is stopped, and recorded as such
    settings = make_settings(
        tmp_path / "data", request_timeout_seconds=6.0, backend_timeout_seconds=3.0
    )
    async with gateway(settings) as gql:
        calls = mutation_calls()
        assert {"ingestMetrics", "deleteAlert", "createChannel"} <= set(calls)
        outcomes: dict[str, str] = {}
        actors: dict[str, str] = {}
        for number, (name, (document, variables)) in enumerate(sorted(calls.items())):
            # a key per call: a mutation that revokes keys cannot stop the walk
            admin = await new_key(settings, "acme", "admin")
            actors[name] = f"key:{key_id(admin)}"
            response = await gql.http.post(
                "/graphql",
                json={"query": document, "variables": variables},
                headers={"Authorization": f"Bearer {admin}", "X-Request-ID": f"probe-{number}"},
            )
            answer = response.json()
            errors = answer.get("errors") or []
            codes = [e["extensions"]["code"] for e in errors]
            if codes == ["REQUEST_TIMEOUT"]:  # stopped at the deadline, while it ran
                outcomes[name] = "CANCELLED"
                continue
            assert all(e.get("path") for e in errors), (
                f"{name} was refused before it ran: give its argument types a valid dummy "
                f"(SCALARS): {answer}"
            )
            outcomes[name] = codes[0] if codes else "ok"
        reader = GraphQLClient(gql.http, await new_key(settings, "acme", "admin"))
        body = await audit_log(reader)
    entries = [edge["node"] for edge in body["data"]["auditLog"]["edges"]]
    by_action = {e["action"]: e for e in entries}
    assert set(calls) <= set(by_action), set(calls) - set(by_action)
    for number, name in enumerate(sorted(calls)):
        entry = by_action[name]
        assert entry["outcome"] == outcomes[name], (name, entry)
        assert entry["requestId"] == f"probe-{number}"
        assert (entry["tenant"], entry["actor"]) == ("acme", actors[name])
    # the id argument is the target; no other argument value is kept
    assert by_action["deleteAlert"]["target"] == "x"
    assert by_action["ingestMetrics"]["target"] is None


async def test_admins_read_their_own_tenant_only(
    app: Starlette, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    acme_admin = await make_key("acme", "admin")
    globex_admin = await make_key("globex", "admin")
    acme_writer = await make_key("acme", "ingest,read,write")
    acme, globex = GraphQLClient(client, acme_admin), GraphQLClient(client, globex_admin)
    await acme.execute(INGEST)
    await GraphQLClient(client, acme_writer).execute(INGEST)
    await settled(app)
    mine = await audit_log(acme)
    assert actions(mine) == ["ingestMetrics", "ingestMetrics"]
    writer = f"key:{key_id(acme_writer)}"
    only = await audit_log(acme, actor=writer)
    nodes = [e["node"] for e in only["data"]["auditLog"]["edges"]]
    assert sorted((n["actor"], n["action"]) for n in nodes) == [
        (writer, "ingestMetrics"),
        (writer, SIGN_IN),
    ]
    theirs = await audit_log(globex)
    await settled(app)
    assert actions(theirs) == []
    refused = await GraphQLClient(client, acme_writer).execute(AUDIT_LOG, {"first": 10})
    assert refused["data"]["auditLog"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    export = await client.get("/audit.ndjson", headers={"Authorization": f"Bearer {acme_admin}"})
    assert export.status_code == 200
    lines = [orjson.loads(line) for line in export.text.splitlines()]
    # oldest first, the export itself last (it is recorded before the entries are sent)
    assert [line["action"] for line in lines if line["action"] != SIGN_IN] == [
        "ingestMetrics",
        "ingestMetrics",
        EXPORT,
    ]
    assert sorted(line["actor"] for line in lines if line["action"] == SIGN_IN) == sorted(
        [f"key:{key_id(acme_admin)}", writer]
    )
    for before, after in itertools.pairwise(lines):
        assert after["prev"] == before["hash"]
    other = await client.get("/audit.ndjson", headers={"Authorization": f"Bearer {globex_admin}"})
    assert other.status_code == 200
    assert {orjson.loads(line)["tenant"] for line in other.text.splitlines()} == {"globex"}
    cross = await client.get(
        "/audit.ndjson?tenant=acme", headers={"Authorization": f"Bearer {globex_admin}"}
    )
    assert cross.status_code == 403
    denied = await client.get("/audit.ndjson", headers={"Authorization": f"Bearer {acme_writer}"})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # the export itself is in the trail
    after = await audit_log(acme, action=EXPORT)
    assert len(after["data"]["auditLog"]["edges"]) == 1


async def test_refused_credentials_are_summarised_for_the_operator(
    app: Starlette, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    for _ in range(3):
        refused = await client.post(
            "/graphql", json={"query": "{ viewer }"}, headers={"Authorization": "Bearer agk_no"}
        )
        assert refused.status_code == 401
    assert (await client.get("/analytics/alerts", headers={"X-API-Key": "nope"})).status_code == 401
    await app.state.gateway.services.audit.flush_refusals()
    operator = GraphQLClient(client, await make_key("_system", "admin"))
    body = await audit_log(operator, action="refusedCredentials")
    # the minute's own summary may have come in between: one entry, or two that add up
    entries = [e["node"] for e in body["data"]["auditLog"]["edges"]]
    assert 1 <= len(entries) <= 2, entries
    assert sum(entry["count"] for entry in entries) == 4
    for entry in entries:
        assert (entry["outcome"], entry["tenant"]) == ("UNAUTHENTICATED", "_system")
        assert entry["actor"].startswith("source:")


async def test_a_store_outage_does_not_fail_the_mutation(
    app: Starlette, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    services = app.state.gateway.services
    store = services.backends.config
    ingester = await make_key("acme", "ingest")
    await GraphQLClient(client, ingester).execute("{ viewer }")  # its sign-in, stored first
    await settled(app)

    async def down(tenant: str, seal: Any) -> str:
        from analytics_gateway.errors import BackendUnavailable

        raise BackendUnavailable("config store is down", backend="config")

    original = store.append_audit
    store.append_audit = down
    try:
        body = await GraphQLClient(client, ingester).execute(INGEST)
    finally:
        store.append_audit = original
    assert body["data"]["ingestMetrics"]["accepted"] == 1
    failures = services.metrics.registry.get_sample_value(
        "gateway_audit_failures_total", {"reason": "unavailable"}
    )
    assert failures == 1


def command(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`analytics-gateway ARGS` on the test's stores, as an operator runs it."""
    env = {
        **os.environ,
        "ANALYTICS_DATA_DIR": str(settings.data_dir),
        "ANALYTICS_CONFIG_URL": settings.resolved_config_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "analytics_gateway", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def verify_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return command(settings, "audit", "verify", *args)


async def test_audit_verify_names_an_edited_and_a_deleted_entry(
    app: Starlette, settings: Settings, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin = GraphQLClient(client, await make_key("acme", "admin"))
    for _ in range(5):
        await admin.execute(INGEST)
    await settled(app)
    ok = verify_cli(settings)
    assert ok.returncode == 0, ok.stderr
    assert "tenant acme: 6 entries verified" in ok.stdout  # its sign-in, and 5 mutations
    edges = (await audit_log(admin))["data"]["auditLog"]["edges"]
    ids = [e["node"]["id"] for e in reversed(edges)]  # oldest first
    url = settings.resolved_config_url

    await edit_entry(url, "acme", ids[1], "outcome", "FORBIDDEN")
    edited = verify_cli(settings, "--tenant", "acme")
    assert edited.returncode == 1
    assert f"entry {ids[1]} is bad" in edited.stderr
    assert "edited" in edited.stderr

    await edit_entry(url, "acme", ids[1], "outcome", "ok")  # put back: verifies again
    assert verify_cli(settings, "--tenant", "acme").returncode == 0
    await delete_entry(url, "acme", ids[3])
    deleted = verify_cli(settings, "--tenant", "acme")
    assert deleted.returncode == 1
    assert f"entry {ids[4]} is bad" in deleted.stderr
    assert "deleted" in deleted.stderr


async def test_mutations_over_a_websocket_are_recorded_too(
    base: str, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin = await make_key("acme", "admin")
    ws = await open_ws(base, admin)
    try:
        await ws.subscribe(INGEST)
        message = await ws.next_data(timeout=30)
        assert message["payload"]["data"]["ingestMetrics"]["accepted"] == 1
    finally:
        await ws.close()
    body = await audit_log(GraphQLClient(client, admin), action="ingestMetrics")
    [entry] = [edge["node"] for edge in body["data"]["auditLog"]["edges"]]
    assert (entry["actor"], entry["outcome"]) == (f"key:{key_id(admin)}", "ok")


async def sign_ins(gql: GraphQLClient) -> list[dict[str, Any]]:
    body = await audit_log(gql, action=SIGN_IN)
    return [edge["node"] for edge in body["data"]["auditLog"]["edges"]]


async def test_a_credentials_first_use_is_one_sign_in_over_http_and_websocket(
    app: Starlette, base: str, client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    reader = await make_key("acme", "read")
    for number in range(3):
        answer = await client.post(
            "/graphql",
            json={"query": "{ viewer }"},
            headers={"Authorization": f"Bearer {reader}", "X-Request-ID": f"use-{number}"},
        )
        assert answer.status_code == 200
    rest = await client.get("/analytics/alerts", headers={"X-API-Key": reader})
    assert rest.status_code == 200
    admin = await make_key("acme", "admin")
    ws = await open_ws(base, admin)  # its first use: a WebSocket connection
    await ws.close()
    await settled(app)
    entries = await sign_ins(GraphQLClient(client, admin))  # a second use, not a sign-in
    by_actor = {e["actor"]: e for e in entries}
    assert len(entries) == len(by_actor) == 2, entries
    first = by_actor[f"key:{key_id(reader)}"]
    assert (first["tenant"], first["target"], first["outcome"], first["requestId"]) == (
        "acme",
        key_id(reader),
        "ok",
        "use-0",
    )
    assert by_actor[f"key:{key_id(admin)}"]["target"] == key_id(admin)
    # a refused credential is no sign-in: it is summarised for the operator instead
    refused = await client.post(
        "/graphql", json={"query": "{ viewer }"}, headers={"Authorization": "Bearer agk_x_y"}
    )
    assert refused.status_code == 401
    await settled(app)
    assert len(await sign_ins(GraphQLClient(client, admin))) == 2


@pytest.fixture
def cli_ok(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Awaitable[list[str]]]:
    """`analytics-gateway ARGS` in this process (a thread: it runs its own event loop) on
    the test's stores; its output lines. Quicker than a process per command."""
    monkeypatch.setenv("ANALYTICS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANALYTICS_CONFIG_URL", settings.resolved_config_url)

    async def run(*args: str, code: int = 0) -> list[str]:
        assert await asyncio.to_thread(cli.main, list(args)) == code, args
        return capsys.readouterr().out.splitlines()

    return run


async def test_changes_and_reads_made_with_the_cli_are_recorded_and_verify(
    app: Starlette,
    settings: Settings,
    client: httpx.AsyncClient,
    make_key: MakeKey,
    cli_ok: Callable[..., Awaitable[list[str]]],
) -> None:
    acme = GraphQLClient(client, await make_key("acme", "admin"))
    globex = GraphQLClient(client, await make_key("globex", "admin"))
    operator = GraphQLClient(client, await make_key("_system", "admin"))
    created = await cli_ok("keys", "create", "--tenant", "acme", "--scopes", "read")
    made = key_id(created[-1])
    await cli_ok("keys", "rotate", made, "--grace", "1h")
    await cli_ok("keys", "list")  # every tenant's keys
    await cli_ok("keys", "revoke", made)
    await cli_ok("keys", "revoke", "nope", code=1)
    await cli_ok("quotas", "set", "--tenant", "acme", "dashboards=7", "models=3")
    await cli_ok("quotas", "show", "--tenant", "globex")
    await cli_ok("quotas", "reset", "--tenant", "acme")
    await settled(app)
    verified = verify_cli(settings)
    assert verified.returncode == 0, verified.stderr

    def by_cli(body: dict[str, Any]) -> list[tuple[str, str, str]]:
        nodes = [edge["node"] for edge in reversed(body["data"]["auditLog"]["edges"])]
        return [
            (n["action"], n["target"], n["outcome"]) for n in nodes if n["actor"].startswith("cli:")
        ]

    assert by_cli(await audit_log(acme)) == [
        ("createApiKey", made, "ok"),
        ("rotateApiKey", made, "ok"),
        ("readTenantMetadata", "apiKeys", "ok"),
        ("revokeApiKey", made, "ok"),
        ("setQuotas", "dashboards,models", "ok"),
        ("resetQuotas", None, "ok"),
    ]
    # another tenant sees in its own log that an operator read its metadata
    assert by_cli(await audit_log(globex)) == [
        ("readTenantMetadata", "apiKeys", "ok"),
        ("readTenantMetadata", "quotas", "ok"),
    ]
    # a key no tenant has: recorded under the operator's tenant
    assert ("revokeApiKey", "nope", "NOT_FOUND") in by_cli(await audit_log(operator))


async def test_a_head_kept_elsewhere_catches_a_rewritten_chain(
    app: Starlette,
    settings: Settings,
    client: httpx.AsyncClient,
    make_key: MakeKey,
    tmp_path: Path,
    cli_ok: Callable[..., Awaitable[list[str]]],
) -> None:
    admin = GraphQLClient(client, await make_key("acme", "admin"))
    for _ in range(3):
        await admin.execute(INGEST)
    await settled(app)
    heads = tmp_path / "heads.txt"
    heads.write_text("\n".join(await cli_ok("audit", "head")) + "\n")
    assert any(line.startswith("acme ") for line in heads.read_text().splitlines())
    await admin.execute(INGEST)  # the chain grows past the kept head: still fine
    assert verify_cli(settings, "--expect-head", str(heads)).returncode == 0

    await erase_chain(settings.resolved_config_url, "acme")
    await admin.execute(INGEST)  # a new chain, valid on its own
    assert verify_cli(settings).returncode == 0
    rewritten = verify_cli(settings, "--expect-head", str(heads))
    assert rewritten.returncode == 1
    assert "tenant acme" in rewritten.stderr
    assert "not in the chain" in rewritten.stderr


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """The OpenID provider `test_oidc` runs (oidc-provider, npm)."""
    with oidc_provider(tmp_path / "oidc", AUDIENCE, FIRST_KEYS) as server:
        yield server


async def test_tokens_of_the_identity_provider_sign_in_once_per_subject(
    provider: OidcProvider, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", oidc_issuer=provider.issuer, oidc_audience=AUDIENCE)
    async with (
        started(create_app(settings, registry=CollectorRegistry())) as app,
        serving(app, lifespan=False) as base,
    ):
        token = provider.token("acme-app", "read")
        async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://g") as http:
            for _ in range(2):
                answer = await http.post(
                    "/graphql",
                    json={"query": "{ viewer }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code == 200, answer.text
        # a new token of the same subject, over a WebSocket: the same actor, within its hour
        await (await open_ws(base, provider.token("acme-app", "read"))).close()
        await (await open_ws(base, provider.token("globex-reader", "read"))).close()
        await settled(app)
        store = app.state.gateway.services.backends.config
        acme = [f for _, f in await store.audit_entries("acme") if f["action"] == SIGN_IN]
        globex = [f for _, f in await store.audit_entries("globex") if f["action"] == SIGN_IN]
    assert [(f["actor"], f["target"], f["outcome"]) for f in acme] == [
        ("jwt:acme-app", "acme-app", "ok")
    ]
    assert [f["actor"] for f in globex] == ["jwt:globex-reader"]
