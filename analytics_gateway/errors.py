"""The gateway's one error tree. Each error carries a machine-readable code.

    GatewayError                 (INTERNAL_SERVER_ERROR)
    ├── BadUserInput             (BAD_USER_INPUT)
    ├── Unauthenticated          (UNAUTHENTICATED)
    ├── Forbidden                (FORBIDDEN)
    ├── NotFound                 (NOT_FOUND)
    ├── Conflict                 (CONFLICT)
    ├── BackendUnavailable       (BACKEND_UNAVAILABLE)
    │   └── BackendTimeout       (BACKEND_UNAVAILABLE)
    ├── RateLimited              (RATE_LIMITED)
    ├── QuotaExceeded            (QUOTA_EXCEEDED)
    ├── ResyncRequired           (RESYNC_REQUIRED)
    └── QueryTooComplex          (QUERY_TOO_COMPLEX)

Driver exceptions become `BackendUnavailable` (`raise ... from exc`). The
masking extension shows these to clients and hides everything else. A
`BackendUnavailable` carries the driver's words (hosts, ports, server
replies) for the log; clients see only `public_message()`: which store, and
whether it timed out or is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


def quote_input(text: str, limit: int = 40) -> str:
    """A client's text as an error message quotes it: `repr`, cut to `limit` characters
    (a 400-digit number need not come back whole)."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


class GatewayError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    def as_extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extensions}

    def public_message(self) -> str:
        """The message clients see (the log may get more, see `BackendUnavailable`)."""
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # crosses process boundaries (ML workers) with its extensions intact
        return (_restore, (type(self), self.message, dict(self.extensions)))


def _restore(cls: type[GatewayError], message: str, extensions: dict[str, Any]) -> GatewayError:
    error = cls.__new__(cls)
    GatewayError.__init__(error, message, **extensions)
    return error


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"
    http_status = 400


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(GatewayError):
    code = "FORBIDDEN"
    http_status = 403


class NotFound(GatewayError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(GatewayError):
    """A write based on a stale version of a document (optimistic concurrency)."""

    code = "CONFLICT"
    http_status = 409


_STORES = {
    "duckdb": "store",
    "influxdb": "metrics store",
    "elasticsearch": "events store",
    "prometheus": "Prometheus source",
    "config": "configuration store",
    "cache": "query cache",
    "broker": "live broker",
    "buffer": "ingest buffer",
    "ml": "model store",
    "oidc": "identity provider",
}


class BackendUnavailable(GatewayError):
    code = "BACKEND_UNAVAILABLE"
    http_status = 503

    def public_message(self) -> str:
        """What a client may read: the store's role and the kind of failure, no details."""
        store = _STORES.get(str(self.extensions.get("backend", "")), "a backend")
        return f"the {store} is unavailable; try again later"


class BackendTimeout(BackendUnavailable):
    """The store did not answer within its deadline."""

    def public_message(self) -> str:
        store = _STORES.get(str(self.extensions.get("backend", "")), "a backend")
        return f"the {store} timed out; try again later"


@dataclass(frozen=True)
class RateWait:
    """Whose rate a refusal is for, and when its wait ends (on the quotas' clock)."""

    tenant: str
    what: str
    rate: float
    until: float


class RateLimited(GatewayError):
    code = "RATE_LIMITED"
    http_status = 429
    # set by the quotas on a refusal for a tenant's rate: what the HTTP answer may be
    # held for (`Quotas.hold_refusal`), never shown to the client
    wait: RateWait | None = None


class QuotaExceeded(GatewayError):
    """A tenant holds, or asks at once for, more than its quota allows."""

    code = "QUOTA_EXCEEDED"
    http_status = 429


class ResyncRequired(GatewayError):
    """A live subscription asked to resume from a position the stream no longer holds."""

    code = "RESYNC_REQUIRED"
    http_status = 409


class QueryTooComplex(GatewayError):
    code = "QUERY_TOO_COMPLEX"
    http_status = 400
