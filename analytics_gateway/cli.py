"""The `analytics-gateway` command: serve, keys, quotas, schema, agent, eval."""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import gc
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from analytics_gateway import __version__
from analytics_gateway.audit import commands as recorded
from analytics_gateway.audit.commands import OK, CommandAudit
from analytics_gateway.auth import create_key, parse_scopes, rotate_key
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.backends.factory import build_config_store
from analytics_gateway.config import Settings
from analytics_gateway.domain import Scope
from analytics_gateway.durations import parse_duration_ms
from analytics_gateway.errors import GatewayError, NotFound
from analytics_gateway.quotas import Quotas, TenantQuotas, parse_assignments

DATA_DIR_HELP = (
    "the gateway's data directory, whose config store holds the keys "
    "(ANALYTICS_DATA_DIR, default ./data; ANALYTICS_CONFIG_URL if the keys are in Redis)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analytics-gateway",
        description="Multi-tenant GraphQL analytics gateway. Every option also reads "
        "an ANALYTICS_<OPTION> environment variable (e.g. ANALYTICS_PORT).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (uvicorn)")
    serve.add_argument("--host", help="bind address (ANALYTICS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (ANALYTICS_PORT, default 8000)")
    serve.add_argument("--data-dir", help="data directory (ANALYTICS_DATA_DIR, default ./data)")
    serve.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="seed tenant 'demo' with a week of history and publish live points (ANALYTICS_DEMO)",
    )
    serve.add_argument("--tls-cert", help="serve HTTPS: PEM certificate chain (ANALYTICS_TLS_CERT)")
    serve.add_argument("--tls-key", help="the certificate's PEM private key (ANALYTICS_TLS_KEY)")

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key; prints it on the last line")
    create.add_argument(
        "--tenant", required=True, help="the tenant the key reads and writes (its only one)"
    )
    create.add_argument(
        "--scopes",
        default="read",
        help="comma-separated: ingest (write points and events), read, write (alerts, "
        "dashboards, models, silences), admin (everything, channels and keys included)",
    )
    create.add_argument("--description", default="", help="a note shown by `keys list`")
    create.add_argument("--expires", help="stop working after this long, e.g. 90d (default: never)")
    create.add_argument("--data-dir", help=DATA_DIR_HELP)
    listing = keys_sub.add_parser(
        "list", help="list keys (never their secrets), with their expiry and last use"
    )
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.add_argument("--data-dir", help=DATA_DIR_HELP)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id; effective at once")
    revoke.add_argument("key_id", help="the id `keys list` shows (not the secret)")
    revoke.add_argument("--data-dir", help=DATA_DIR_HELP)
    rotate = keys_sub.add_parser(
        "rotate",
        help="give a key a new secret (printed on the last line); the old one "
        "keeps working for --grace",
    )
    rotate.add_argument("key_id", help="the id `keys list` shows (not the secret)")
    rotate.add_argument("--grace", default="24h", help="how long the old secret still works")
    rotate.add_argument("--data-dir", help=DATA_DIR_HELP)

    quotas = sub.add_parser(
        "quotas", help="per-tenant rate limits and quotas (replicas see changes within 30 s)"
    )
    quotas_sub = quotas.add_subparsers(dest="quotas_command", required=True)
    show = quotas_sub.add_parser("show", help="what applies to a tenant, and what was overridden")
    show.add_argument("--tenant", required=True)
    show.add_argument("--data-dir")
    set_ = quotas_sub.add_parser("set", help="override quotas of a tenant: name=value ...")
    set_.add_argument("--tenant", required=True)
    set_.add_argument("values", nargs="+", metavar="name=value")
    set_.add_argument("--data-dir")
    reset = quotas_sub.add_parser("reset", help="drop a tenant's overrides (defaults apply)")
    reset.add_argument("--tenant", required=True)
    reset.add_argument("--data-dir")

    crypto = sub.add_parser("crypto", help="encryption at rest of channel URLs and secrets")
    crypto_sub = crypto.add_subparsers(dest="crypto_command", required=True)
    for name, text in (
        ("rotate", "re-seal every stored secret under the keyring's active key (safe while "
                   "gateways run; run again after an interruption)"),
        ("status", "count stored secrets per key id (plaintext: not sealed)"),
    ):  # fmt: skip
        command = crypto_sub.add_parser(name, help=text)
        command.add_argument("--data-dir", help=DATA_DIR_HELP)
        command.add_argument("--config-url", help="the config store (ANALYTICS_CONFIG_URL)")

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="walk each tenant's hash chain; exit 1 naming the first bad entry"
    )
    verify.add_argument("--tenant", help="only this tenant's chain")
    verify.add_argument(
        "--expect-head",
        type=Path,
        metavar="FILE",
        help="`audit head` output kept elsewhere: each chain must still hold its head "
        "(detects a rewrite of the whole chain)",
    )
    verify.add_argument("--data-dir", help=DATA_DIR_HELP)
    verify.add_argument("--config-url", help="the config store (ANALYTICS_CONFIG_URL)")
    head = audit_sub.add_parser(
        "head", help="print each tenant's newest hash ('<tenant> <hash>'), to keep elsewhere"
    )
    head.add_argument("--tenant", help="only this tenant's chain")
    head.add_argument("--data-dir", help=DATA_DIR_HELP)
    head.add_argument("--config-url", help="the config store (ANALYTICS_CONFIG_URL)")

    sub.add_parser("schema", help="print the GraphQL SDL")

    agent = sub.add_parser(
        "agent",
        help="push this host's CPU, memory, disk and network metrics to a gateway "
        "(InfluxDB line protocol to /write, as Telegraf does) until SIGINT or SIGTERM",
    )
    agent.add_argument("--url", required=True, help="the gateway, e.g. http://gateway:8000")
    agent.add_argument(
        "--key", required=True, help="an API key with the ingest scope (of the operator tenant)"
    )
    agent.add_argument("--interval", default="10s", help="time between samples (10s)")
    agent.add_argument("--once", action="store_true", help="send one sample, then exit")
    agent.add_argument("--hostname", help="the host label (default: this host's name)")
    agent.add_argument(
        "--disk-path", default="/", help="report the filesystem holding this path (/)"
    )
    agent.add_argument("--per-cpu", action="store_true", help="also one series per CPU")

    evaluate = sub.add_parser("eval", help="measure the ML features on labelled data")
    eval_sub = evaluate.add_subparsers(dest="eval_command", required=True)
    anomalies = eval_sub.add_parser(
        "anomalies", help="NAB score and event F1 of an anomaly detector, beside a random one"
    )
    anomalies.add_argument("--nab", required=True, type=Path, help="NAB-shaped directory")
    anomalies.add_argument("--out", type=Path, help="write one CSV row per alert raised")
    anomalies.add_argument("--detector", default="ensemble", help="detector name")
    fc = eval_sub.add_parser(
        "forecast", help="hold out a series' end: MASE and interval coverage vs seasonal naive"
    )
    fc.add_argument(
        "--csv",
        required=True,
        type=Path,
        help="time,value CSV (header optional); times in ISO 8601 (UTC when no offset) "
        "or epoch seconds or milliseconds (told apart by size)",
    )
    fc.add_argument("--horizon", required=True, help="points to hold out, or a share: 10%%, 0.1")
    fc.add_argument("--model", default="auto", help="auto, ets, theta, ces, arima, seasonal_naive")
    fc.add_argument("--confidence", type=float, default=0.95, help="interval level (0.95)")
    rec = eval_sub.add_parser(
        "recommendations",
        help="per-user hold-out: precision, recall, NDCG@k and coverage vs popularity",
    )
    rec.add_argument(
        "--ratings", required=True, type=Path, help="CSV with user_id,item_id[,timestamp]"
    )
    held = rec.add_mutually_exclusive_group()
    held.add_argument("--holdout-last", type=int, help="test rows per user (default: a share)")
    held.add_argument(
        "--holdout-fraction", type=float, default=0.2, help="share of each user's rows (0.2)"
    )
    rec.add_argument("--k", type=int, default=10, help="list length scored (10)")
    rec.add_argument("--method", default="ease", help="ease (default) or itemknn")
    rec.add_argument("--seed", type=int, default=0, help="for the random hold-out (no times)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=getattr(args, "data_dir", None),
        demo=getattr(args, "demo", None),
        config_url=getattr(args, "config_url", None),
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
    )


async def _demo_key(settings: Settings) -> str:
    """Reuse the demo key kept in the data directory, or make a new one."""
    store = build_config_store(settings)
    try:
        return await _reuse_or_create_demo_key(settings, store)
    finally:
        await store.close()


async def _reuse_or_create_demo_key(settings: Settings, store: ConfigStore) -> str:
    path = settings.demo_key_path
    if path.exists():
        key = path.read_text().strip()
        from analytics_gateway.auth import authenticate

        try:
            await authenticate(store, key)
            return key
        except GatewayError:
            pass
    _, key = await create_key(
        store, "demo", frozenset({Scope.READ, Scope.WRITE, Scope.ADMIN}), "demo key"
    )
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _serve(settings: Settings) -> int:
    import uvicorn

    from analytics_gateway import tracing
    from analytics_gateway.app import create_app
    from analytics_gateway.crypto.envelope import Secrets
    from analytics_gateway.crypto.tls import server_context
    from analytics_gateway.http import pages as web_pages
    from analytics_gateway.observability import configure_logging

    # everything that can stop a start is checked before anything says "started"
    tls = server_context(settings)
    data_lock = _hold_data_dir(settings.data_dir)
    Secrets.of_settings(settings)  # the keyring: readable and well-formed (or made, in dev)
    sockets = [_listening(settings.host, settings.port, "ANALYTICS_PORT")]
    if settings.admin_port:
        sockets.append(_listening(settings.admin_host, settings.admin_port, "ANALYTICS_ADMIN_PORT"))
    configure_logging(settings.log_level, settings.json_logs)
    try:
        traced = tracing.configure_from_environment()
    except tracing.TracingConfigError as exc:
        raise CannotStart(str(exc)) from None
    scheme = "https" if tls else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    print(f"analytics-gateway: data in {Path(settings.data_dir).resolve()}", flush=True)
    if settings.demo:
        key = asyncio.run(_demo_key(settings))
        print(f"Demo API key (tenant 'demo'): {key}", flush=True)
        print(f'  In GraphiQL, open Headers and paste: {{"Authorization": "Bearer {key}"}}')
    if settings.graphiql:
        print(f"GraphiQL: {base}/graphql", flush=True)
    print(f"Dashboards: {base}/", flush=True)
    if traced:
        print("Traces: exported over OTLP/HTTP as the OTEL_* settings say", flush=True)
    if not web_pages.is_built():
        print(
            f"  The web UI is not built: run `{web_pages.BUILD_COMMAND}` for the dashboards "
            "and an offline GraphiQL (until then GraphiQL loads from a CDN).",
            flush=True,
        )
    app = create_app(settings)
    # Keep start-up objects out of full collections. The young generation is
    # collected every 10,000 allocations, not 700 (ingest allocates many
    # short-lived containers per batch) and not 50,000: each request's execution
    # leaves cycles, and a collection's pause grows with what it frees; at 50,000
    # a flood of small requests made 40-75 ms pauses, every tenant waiting them
    # out (bench: isolation). Ingest CPU was the same at both (bench: ingest).
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ssl_context_factory=None if tls is None else lambda _config, _default: tls,
    )
    if settings.admin_port:
        # one app, one lifespan, two listeners: requests on the second are the operators'
        print(f"Operator endpoints: {scheme}://{settings.admin_host}:{settings.admin_port}/metrics",
              flush=True)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=sockets)
    except KeyboardInterrupt:
        # Ctrl-C: the server has shut down gracefully and raised the signal again on
        # its way out; a stop asked for is a clean exit, as with uvicorn's own command
        pass
    finally:
        data_lock.close()
    return 0


class CannotStart(Exception):
    """Something that keeps `serve` from starting, said plainly (no traceback)."""


def _hold_data_dir(data_dir: Path) -> IO[str]:
    """Create the data directory and lock it for this process: two gateways on one
    directory would fight over its files (the embedded store refuses a second
    writer with an obscure error, halfway through start-up)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / "gateway.lock").open("a+")
    except OSError as exc:
        raise CannotStart(
            f"cannot use the data directory {data_dir}: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise CannotStart(
            f"another gateway is serving the data directory {data_dir.resolve()}; stop it, "
            "or give this one its own --data-dir"
        ) from None
    return handle


def _listening(host: str, port: int, setting: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        taken = exc.errno == errno.EADDRINUSE
        reason = "is in use (another gateway?)" if taken else f"cannot be used: {exc.strerror}"
        raise CannotStart(
            f"{host}:{port} {reason}; choose another with --port or {setting}"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    store = build_config_store(settings)
    try:
        return await _keys_command(args, store, CommandAudit(store, settings.self_tenant))
    finally:
        await store.close()


async def _keys_command(args: argparse.Namespace, store: ConfigStore, audit: CommandAudit) -> int:
    """Each change and each listing is recorded in the tenants' audit trails."""
    if args.keys_command == "create":
        expires = None if args.expires is None else parse_duration_ms(args.expires, field="expires")
        wanted = parse_scopes(args.scopes)
        async with audit.change(recorded.CREATE_KEY) as act:
            record, key = await create_key(store, args.tenant, wanted, args.description, expires)
            act.tenant, act.target = record.tenant, record.key_id
        scopes = ",".join(sorted(s.value for s in record.scopes))
        print(f"created key {record.key_id} for tenant {record.tenant} with scopes {scopes}")
        if record.expires_at_ms is not None:
            print(f"it expires at {_when(record.expires_at_ms)}")
        print("store it now: it is shown only once")
        print(key)
        return 0
    if args.keys_command == "rotate":
        grace = parse_duration_ms(args.grace, field="grace")
        async with audit.change(recorded.ROTATE_KEY) as act:
            act.target = args.key_id
            act.tenant = await audit.tenant_of_key(args.key_id)
            record, key = await rotate_key(store, args.key_id, grace)
        print(f"rotated key {record.key_id}: the old secret works until "
              f"{_when(record.previous_until_ms)}")  # fmt: skip
        print("store it now: it is shown only once")
        print(key)
        return 0
    if args.keys_command == "list":
        now = int(time.time() * 1000)
        listed = await store.list_keys(args.tenant)
        await audit.read((rec.tenant for rec in listed), "apiKeys")
        for rec in listed:
            state = "revoked" if rec.revoked else "active"
            if not rec.revoked and rec.expires_at_ms is not None and rec.expires_at_ms <= now:
                state = "expired"
            if state == "active" and rec.previous_until_ms and rec.previous_until_ms > now:
                state += f" (old secret until {_when(rec.previous_until_ms)})"
            scopes = ",".join(sorted(s.value for s in rec.scopes))
            print(
                f"{rec.key_id}\t{rec.tenant}\t{scopes}\t{state}\t"
                f"expires {_when(rec.expires_at_ms)}\tlast used {_when(rec.last_used_at_ms)}\t"
                f"{rec.description}"
            )
        return 0
    async with audit.change(recorded.REVOKE_KEY) as act:
        act.target = args.key_id
        act.tenant = await audit.tenant_of_key(args.key_id)
        revoked = await store.revoke_key(args.key_id)
        act.outcome = OK if revoked else NotFound.code
    if revoked:
        print(f"revoked {args.key_id}")
        return 0
    print(f"no key with id {args.key_id}", file=sys.stderr)
    return 1


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "never"
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _quotas(args: argparse.Namespace, settings: Settings) -> int:
    store = build_config_store(settings)
    try:
        audit = CommandAudit(store, settings.self_tenant)
        return await _quotas_command(args, Quotas.of_settings(settings, store), audit)
    finally:
        await store.close()


async def _quotas_command(args: argparse.Namespace, quotas: Quotas, audit: CommandAudit) -> int:
    """Changes are recorded as such; `show` as a read of the tenant's quotas."""
    if args.quotas_command == "set":
        changes = parse_assignments(args.values)
        async with audit.change(recorded.SET_QUOTAS) as act:
            act.target = ",".join(sorted(changes))
            await quotas.override(args.tenant, changes)
            act.tenant = args.tenant
    elif args.quotas_command == "reset":
        async with audit.change(recorded.RESET_QUOTAS) as act:
            await quotas.reset(args.tenant)
            act.tenant = args.tenant
    else:
        await audit.read([args.tenant], "quotas")
    overridden = await quotas.overrides(args.tenant)
    applied = await quotas.of(args.tenant)
    for name in TenantQuotas.names():
        mark = "  (set for this tenant)" if name in overridden else ""
        value = getattr(applied, name)
        print(f"{name}\t{value if isinstance(value, int) else f'{value:g}'}{mark}")
    return 0


async def _crypto(args: argparse.Namespace, settings: Settings) -> int:
    from analytics_gateway.alerting.store import SEALED as CHANNELS
    from analytics_gateway.crypto.envelope import Secrets
    from analytics_gateway.crypto.rotate import count_by_key, rotate
    from analytics_gateway.privacy.sensitive import SEALED as EVENT_ID_KEYS

    SEALED = {**CHANNELS, **EVENT_ID_KEYS}  # events' own sealed values are not re-sealed
    secrets = Secrets.of_settings(settings)
    store = build_config_store(settings)
    try:
        if args.crypto_command == "status":
            active = secrets.keyring.active if secrets.keyring else "none"
            print(f"active key: {active}")
            for kek_id, count in (await count_by_key(store, SEALED)).items():
                print(f"{kek_id}\t{count}")
            return 0
        report = await rotate(store, secrets, SEALED)
    finally:
        await store.close()
    print(
        f"re-sealed {report.fields} value(s) in {report.rewritten} document(s); "
        f"{report.unchanged} already current; {report.retried} conflict(s) retried"
    )
    for failure in report.failed:
        print(f"not re-sealed: {failure}", file=sys.stderr)
    return 1 if report.failed else 0


async def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from analytics_gateway.audit.report import print_heads, read_heads, verify_chains

    kept = None
    if getattr(args, "expect_head", None) is not None:
        try:
            kept = read_heads(args.expect_head.read_text())
        except OSError as exc:
            raise ValueError(f"--expect-head: {exc.strerror or exc}: {args.expect_head}") from None
    store = build_config_store(settings)
    try:
        if args.audit_command == "head":
            return await print_heads(store, args.tenant)
        return await verify_chains(store, args.tenant, kept_heads=kept)
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "schema":
            from analytics_gateway.schema import print_sdl

            sys.stdout.write(print_sdl())
            return 0
        if args.command == "keys":
            return asyncio.run(_keys(args, settings))
        if args.command == "quotas":
            return asyncio.run(_quotas(args, settings))
        if args.command == "crypto":
            return asyncio.run(_crypto(args, settings))
        if args.command == "audit":
            return asyncio.run(_audit(args, settings))
        if args.command == "agent":
            from analytics_gateway.self_monitoring import agent

            return agent.run(args)
        if args.command == "eval" and args.eval_command == "anomalies":
            from analytics_gateway.ml.anomaly_eval import format_report, run_anomaly_eval

            print(format_report(run_anomaly_eval(args.nab, args.detector, args.out)))
            return 0
        if args.command == "eval" and args.eval_command == "forecast":
            from analytics_gateway.ml.forecast_eval import run

            print(run(args.csv, args.horizon, args.model, args.confidence))
            return 0
        if args.command == "eval" and args.eval_command == "recommendations":
            from analytics_gateway.ml import recommender_eval

            print(recommender_eval.run(args))
            return 0
        return _serve(settings)
    except (GatewayError, ValueError, CannotStart) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
