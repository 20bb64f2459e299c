"""One frozen `Settings` object, read once from `ANALYTICS_*` variables.

No other module reads the environment: the CLI builds `Settings` and passes it
to `create_app(settings)`; tests build their own. Any variable may instead be
given as `ANALYTICS_<NAME>_FILE`, a path whose content is the value, so that
secrets (store URLs with passwords, tokens) come from mounted files.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "ANALYTICS_"
# what `auth.validate_tenant` takes, checked here too so a bad setting stops the start
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RETENTION = re.compile(r"^(0|[1-9][0-9]{0,6}(s|m|h|d|w))$")


@dataclass(frozen=True)
class Limits:
    """Per-request guards; each violation yields a coded error."""

    max_depth: int = 15
    max_aliases: int = 100
    max_tokens: int = 5000
    max_points_per_request: int = 1_000_000
    max_batch_size: int = 50_000
    max_subscriptions_per_connection: int = 100
    max_body_bytes: int = 5 * 1024 * 1024
    max_labels: int = 32
    max_label_length: int = 256
    max_future_seconds: int = 3600


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the gateway. Store URLs pick backends."""

    env: str = "development"  # or "production": safer defaults, see `__post_init__`
    host: str = "127.0.0.1"
    port: int = 8000
    # the operator listener (/metrics, detailed /readyz); 0: none, and those answer
    # on the main listener to loopback clients only
    admin_host: str = "127.0.0.1"
    admin_port: int = 0
    data_dir: Path = Path("./data")
    demo: bool = False
    metrics_url: str = ""
    events_url: str = ""
    config_url: str = ""
    cache_url: str = "memory://"
    ingest_buffer_url: str = ""
    broker_url: str = "memory://"
    prometheus_url: str = ""
    prometheus_tenant_label: str = "tenant"
    cache_ttl_seconds: float = 30.0
    graphiql: bool = True
    introspection: bool = True
    log_level: str = "info"
    json_logs: bool = True
    # the operator's tenant: an admin key of it acts on the whole process (log
    # levels, profiles), which no other tenant's key may
    self_tenant: str = "_system"
    subscriber_queue_size: int = 1000
    live_fanout_share: float = 0.3  # most of each second live subscriptions may take
    # live history for `since` replay: messages and bytes per channel, channels per tenant
    live_replay: bool = True
    live_history_size: int = 1000
    live_history_bytes: int = 256 * 1024
    live_history_channels: int = 64
    backend_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 30.0
    events_retention_days: int = 0  # 0 keeps events forever
    alert_tick_seconds: float = 1.0  # alert scheduler wake-up period
    alert_lease_seconds: float = 10.0  # rule-shard lease TTL with a Redis config store
    model_dir: str = ""  # ML model files; default <data_dir>/models (shared by replicas)
    # per-tenant quota defaults over the built-in ones, "name=value,...": see `quotas`
    quotas: str = ""
    # ML in worker processes: how many, and each job's limit (jobs at once per tenant:
    # the `ml_jobs` quota)
    ml_workers: int = 2
    ml_max_seconds: float = 120.0
    # start the ML workers at start-up, and report ready only once they run, so the
    # first dashboard with ML panels does not pay their cold start (on in the demo);
    # off, a gateway that runs no ML forks nothing
    ml_prestart_workers: bool = False
    # HMAC key for model files; default: one made once and kept in the config store
    model_signing_key: str = ""
    # destinations besides public addresses that webhooks, Slack and SMTP may reach:
    # comma-separated CIDRs and host names (see `egress`)
    egress_allow: str = ""
    # self-monitoring: the gateway's host and its own figures, stored as ordinary
    # metrics of `self_tenant` every `self_interval_seconds` (0: off), with per-CPU
    # series too when `self_per_cpu` (see `self_monitoring`)
    self_interval_seconds: float = 10.0
    self_per_cpu: bool = False
    # how long audit entries are kept (`400d`; `0` keeps them forever): older ones are
    # trimmed hourly, the last trimmed one's hash kept so the chain still verifies
    audit_retention: str = "400d"
    # access tokens from an identity provider (see `oidc`), beside API keys; off without
    # an issuer. The JWKS URL defaults to the issuer's discovery document's; the tenant
    # and scopes (space-separated: ingest read write admin) come from these claims;
    # the keys are fetched again for an unknown `kid` at most every refresh seconds
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_tenant_claim: str = "tenant"
    oidc_scope_claim: str = "scope"
    oidc_jwks_refresh_seconds: float = 10.0
    # the web UI's public client at that provider: with it, the UI offers "Sign in with
    # <issuer>" (authorization code + PKCE, in the browser) beside API keys
    oidc_client_id: str = ""
    # personal data (see `privacy`): with `pseudonymise_users`, events keep a keyed
    # HMAC of each userId, per tenant, under `pseudonymise_secret` (32+ characters;
    # losing it makes stored ids unreachable by the original ones). Per-tenant
    # retention rounds run every `retention_interval_seconds` (0: never) and delete at
    # most `retention_batch` rows per tenant and store in one round
    pseudonymise_users: bool = False
    pseudonymise_secret: str = field(default="", repr=False)
    retention_interval_seconds: float = 300.0
    retention_batch: int = 50_000
    # encryption at rest of channel URLs and secrets (see `crypto.keyring`): the keyring
    # file; without it development makes one in data_dir, and production stores no
    # secret unless `allow_plaintext_secrets`
    encryption_keys_file: str = ""
    allow_plaintext_secrets: bool = False
    # TLS on the listeners: PEM certificate chain and key; TLS 1.3 at least unless
    # `tls_min_version` is "1.2"
    tls_cert: str = ""
    tls_key: str = ""
    tls_min_version: str = "1.3"
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.env not in ("development", "production"):
            raise ValueError("ANALYTICS_ENV must be development or production")
        if self.env == "production" and not self.admin_port:
            raise ValueError(
                "ANALYTICS_ENV=production needs ANALYTICS_ADMIN_PORT: /metrics and the "
                "detailed /readyz are then served only there, never to the public"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"ANALYTICS_PORT: {self.port} is not a port (1-65535)")
        if not 0 <= self.admin_port < 65536:
            raise ValueError(
                f"ANALYTICS_ADMIN_PORT: {self.admin_port} is not a port (1-65535, or 0: none)"
            )
        if self.admin_port and self.admin_port == self.port:
            raise ValueError("ANALYTICS_ADMIN_PORT must differ from ANALYTICS_PORT")
        if not 0 < self.backend_timeout_seconds < self.request_timeout_seconds:
            raise ValueError(
                "ANALYTICS_BACKEND_TIMEOUT_SECONDS must be above 0 and below "
                "ANALYTICS_REQUEST_TIMEOUT_SECONDS, so a slow store fails its own fields "
                "before the whole request times out"
            )
        if not _TENANT.match(self.self_tenant):
            raise ValueError(
                f"ANALYTICS_SELF_TENANT: {self.self_tenant!r} is not a tenant name (1-64 "
                "letters, digits, '_', '-' or '.')"
            )
        if self.self_interval_seconds < 0:
            raise ValueError("ANALYTICS_SELF_INTERVAL_SECONDS must be 0 (off) or more")
        if not _RETENTION.match(self.audit_retention):
            raise ValueError(
                f"ANALYTICS_AUDIT_RETENTION: {self.audit_retention!r} is not a duration such "
                "as 400d, 52w or 9600h (0: keep entries forever)"
            )
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError(
                "ANALYTICS_OIDC_ISSUER needs ANALYTICS_OIDC_AUDIENCE: the `aud` tokens for "
                "this gateway carry"
            )
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError(
                "ANALYTICS_OIDC_CLIENT_ID needs ANALYTICS_OIDC_ISSUER: the provider the web "
                "UI signs in with"
            )
        if self.pseudonymise_users and len(self.pseudonymise_secret) < 32:
            raise ValueError(
                "ANALYTICS_PSEUDONYMISE_USERS needs ANALYTICS_PSEUDONYMISE_SECRET (or "
                "ANALYTICS_PSEUDONYMISE_SECRET_FILE) of at least 32 characters"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("TLS needs both ANALYTICS_TLS_CERT and ANALYTICS_TLS_KEY")
        if self.tls_min_version not in ("1.2", "1.3"):
            raise ValueError("ANALYTICS_TLS_MIN_VERSION must be 1.3 (the default) or 1.2")
        if self.retention_interval_seconds < 0 or self.retention_batch < 1:
            raise ValueError(
                "ANALYTICS_RETENTION_INTERVAL_SECONDS must be 0 (off) or more, and "
                "ANALYTICS_RETENTION_BATCH at least 1"
            )

    @property
    def resolved_metrics_url(self) -> str:
        return self.metrics_url or f"duckdb:///{self.data_dir.resolve() / 'analytics.duckdb'}"

    @property
    def resolved_events_url(self) -> str:
        """Events share the metrics' DuckDB file; with metrics elsewhere, a file in data_dir."""
        if self.events_url:
            return self.events_url
        if self.resolved_metrics_url.startswith("duckdb:"):
            return self.resolved_metrics_url
        return f"duckdb:///{self.data_dir.resolve() / 'analytics.duckdb'}"

    @property
    def resolved_config_url(self) -> str:
        return self.config_url or f"sqlite:///{self.data_dir.resolve() / 'config.sqlite3'}"

    @property
    def demo_key_path(self) -> Path:
        """Where `serve --demo` keeps the demo API key, for the pages to fill in."""
        return self.data_dir / "demo-api-key.txt"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `ANALYTICS_<FIELD>` variables, then explicit overrides.

        Limits are read from `ANALYTICS_<LIMIT>` too (e.g. `ANALYTICS_MAX_DEPTH`).
        """
        env = _with_file_variables(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "limits":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f.type, raw, f.name)
        limit_values: dict[str, Any] = {}
        for f in fields(Limits):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                limit_values[f.name] = _convert(f.type, raw, f.name)
        limit_overrides = overrides.pop("limits", None)
        limits = Limits(**limit_values)
        if isinstance(limit_overrides, Mapping):
            limits = dataclasses.replace(limits, **limit_overrides)
        elif isinstance(limit_overrides, Limits):
            limits = limit_overrides
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("env") == "production":
            # what a public deployment should not show unless asked for explicitly
            values.setdefault("graphiql", False)
            values.setdefault("introspection", False)
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(limits=limits, **values)


def _with_file_variables(env: Mapping[str, str]) -> Mapping[str, str]:
    """Resolve `ANALYTICS_<NAME>_FILE` into `ANALYTICS_<NAME>`; both set is an error."""
    resolved = dict(env)
    for key, path in env.items():
        if not (key.startswith(ENV_PREFIX) and key.endswith("_FILE")):
            continue
        target = key[: -len("_FILE")]
        if target in env:
            raise ValueError(f"{key}: {target} is also set; give only one of them")
        try:
            resolved[target] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{key}: cannot read {path!r}: {exc.strerror}") from exc
    return resolved


def _convert(type_name: Any, raw: str, name: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}: cannot read {raw!r} as {kind}") from exc
    return raw
