"""ASGI middleware: a correlation id per request, a guard on request body size, and a
coded JSON answer for anything unexpected."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics_gateway import tracing
from analytics_gateway.http.handlers import error_body
from analytics_gateway.observability import GatewayMetrics, correlation_id


class _TooLarge(Exception):
    pass


log = logging.getLogger(__name__)


async def _send_error(send: Send, status: int, message: str, extensions: dict[str, Any]) -> None:
    """A whole JSON error response, from middleware (below any route's own answers)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    body = orjson.dumps(error_body(message, extensions))
    await send({"type": "http.response.body", "body": body})


class UnexpectedErrors:
    """An exception no route turned into an answer becomes a coded JSON 500.

    The client gets `INTERNAL_SERVER_ERROR` and the correlation id to quote,
    never the exception's text; the log gets the traceback under that id. The
    exception stops here, so the server keeps the connection open instead of
    closing it as it does after a crash mid-response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            rid = correlation_id.get()
            log.exception("unexpected error answering %s %s", scope.get("method"), scope["path"])
            if started:
                raise  # half an answer sent: only closing the connection can say so
            await _send_error(
                send,
                500,
                f"Internal server error (correlation id {rid})",
                {"code": "INTERNAL_SERVER_ERROR", "correlationId": rid},
            )


class BodySizeLimit:
    """Refuses oversized bodies with 413 before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        await _send_error(
            send,
            413,
            f"request body exceeds {self.max_bytes} bytes",
            {"code": "BAD_USER_INPUT", "limit": self.max_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)


class ServerSpans:
    """One SERVER span per HTTP request (OpenTelemetry's HTTP server conventions), child
    of the caller's `traceparent` when it sent one. Nothing at all when tracing is off.

    Outermost, so the access log line and every span of the request fall inside it.
    WebSocket connections are left alone: a span that lasts as long as a
    subscription says nothing; their deliveries are traced one by one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers") or []
            if name.lower() in _PROPAGATED
        }
        method = scope.get("method", "GET")
        status = 0

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        attributes = {
            "http.request.method": method,
            "url.path": scope.get("path", ""),
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        with (
            tracing.continued(headers),
            tracing.span(method, attributes, kind=tracing.SpanKind.SERVER) as span,
        ):
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                if span is not None and span.is_recording():
                    matched = scope.get("route")
                    route = getattr(matched, "path", None)
                    if route:
                        span.set_attribute("http.route", route)
                        span.update_name(f"{method} {route}")
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(tracing.Status(tracing.StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))


_PROPAGATED = {b"traceparent", b"tracestate"}


class CorrelationIdMiddleware:
    """Reads or makes an `X-Request-ID`, exposes it to logs, echoes it back."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("analytics_gateway.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:64] if incoming else uuid.uuid4().hex
        token = correlation_id.set(rid)
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            # WebSocket frames pass straight through: this sits on the fan-out hot path
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if scope["type"] == "http":
                path = scope.get("path", "")
                matched = scope.get("route")  # set by the router: the route's template
                route = getattr(matched, "path", None) or "other"
                self.metrics.http_requests.labels(route=route, status=str(status)).inc()
                self.log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope.get("method"),
                            "path": path,
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
            correlation_id.reset(token)


# What the UI and the built GraphiQL need, and nothing more: their scripts and
# styles come from this server; GraphiQL and the charts set styles at run time.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Security headers on every HTTP response; a page may bring its own CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                added = [h for h in _ALWAYS if h[0] not in present]
                if b"content-security-policy" not in present:
                    added.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                if secure:
                    added.append(_HSTS)
                message = {**message, "headers": headers + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
