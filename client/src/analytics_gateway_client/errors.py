"""What the client raises: one tree, so callers catch at the level they need.

    ClientError                      anything this client raises
    ├── TransportError               no usable answer (connection, timeout, bad body,
    │                                a WebSocket closed by the network or the protocol)
    └── GatewayError                 the gateway refused or failed: `code` is the
        │                            GraphQL error's `extensions.code`
        ├── BadUserInput             (BAD_USER_INPUT)
        ├── Unauthenticated          (UNAUTHENTICATED; a WebSocket refused with 4403)
        ├── Forbidden                (FORBIDDEN: the key lacks the scope)
        ├── NotFound                 (NOT_FOUND)
        ├── Conflict                 (CONFLICT)
        ├── BackendUnavailable       (BACKEND_UNAVAILABLE)
        ├── RateLimited              (RATE_LIMITED; `retry_after` seconds when known)
        ├── QuotaExceeded            (QUOTA_EXCEEDED)
        ├── ResyncRequired           (RESYNC_REQUIRED: resume a subscription without `since`)
        └── QueryTooComplex          (QUERY_TOO_COMPLEX)

A code the client does not know (a newer gateway's) raises `GatewayError` itself
with that code. Every `GatewayError` keeps all of the response's errors in
`errors`, the first one's message, path and extensions on the exception, and
the HTTP status or WebSocket close code when there was one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "BackendUnavailable",
    "BadUserInput",
    "ClientError",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "GraphQLErrorDetail",
    "NotFound",
    "QueryTooComplex",
    "QuotaExceeded",
    "RateLimited",
    "ResyncRequired",
    "TransportError",
    "Unauthenticated",
    "error_for",
]


class ClientError(Exception):
    """Base of everything the client raises."""


class TransportError(ClientError):
    """No usable answer from the gateway: it could not be reached, timed out, answered
    something that is not a GraphQL response, or closed a WebSocket unexpectedly."""

    def __init__(self, message: str, *, status: int | None = None, close_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.close_code = close_code


@dataclass(frozen=True)
class GraphQLErrorDetail:
    """One entry of a response's `errors`."""

    message: str
    extensions: Mapping[str, Any] = field(default_factory=dict)
    path: Sequence[str | int] | None = None

    @property
    def code(self) -> str:
        return str(self.extensions.get("code", GatewayError.code))


class GatewayError(ClientError):
    """The gateway answered with a GraphQL error; `code` is its `extensions.code`."""

    code: str = "INTERNAL_SERVER_ERROR"
    known_code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(
        self,
        errors: Sequence[GraphQLErrorDetail],
        *,
        status: int | None = None,
        close_code: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        first = errors[0] if errors else GraphQLErrorDetail("the gateway reported an error")
        super().__init__(first.message)
        self.message = first.message
        self.code = first.code
        self.extensions: Mapping[str, Any] = first.extensions
        self.path = first.path
        self.errors = list(errors)
        self.status = status
        self.close_code = close_code
        self.data = data

    def __str__(self) -> str:
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{self.code}: {self.message}{more}"


class BadUserInput(GatewayError):
    known_code = "BAD_USER_INPUT"


class Unauthenticated(GatewayError):
    known_code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    known_code = "FORBIDDEN"


class NotFound(GatewayError):
    known_code = "NOT_FOUND"


class Conflict(GatewayError):
    known_code = "CONFLICT"


class BackendUnavailable(GatewayError):
    known_code = "BACKEND_UNAVAILABLE"


class RateLimited(GatewayError):
    known_code = "RATE_LIMITED"

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying, when the gateway said."""
        value = self.extensions.get("retryAfter")
        return float(value) if isinstance(value, int | float) else None


class QuotaExceeded(GatewayError):
    known_code = "QUOTA_EXCEEDED"


class ResyncRequired(GatewayError):
    known_code = "RESYNC_REQUIRED"


class QueryTooComplex(GatewayError):
    known_code = "QUERY_TOO_COMPLEX"


_BY_CODE: dict[str, type[GatewayError]] = {
    cls.known_code: cls
    for cls in (
        BadUserInput,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        BackendUnavailable,
        RateLimited,
        QuotaExceeded,
        ResyncRequired,
        QueryTooComplex,
    )
}


def error_for(
    errors: Sequence[GraphQLErrorDetail],
    *,
    status: int | None = None,
    close_code: int | None = None,
    data: Mapping[str, Any] | None = None,
) -> GatewayError:
    """The exception for a response's `errors`: its class chosen by the first one's code."""
    code = errors[0].code if errors else GatewayError.known_code
    cls = _BY_CODE.get(code, GatewayError)
    return cls(errors, status=status, close_code=close_code, data=data)
