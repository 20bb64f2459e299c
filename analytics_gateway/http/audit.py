"""`GET /audit.ndjson`: the caller's tenant's audit trail as NDJSON, oldest first (admin).

Each line is one entry with its `prev` and `hash`, so the export can be verified
away from the gateway. `?since=` (ISO-8601) starts later; `?tenant=` may only name
the caller's own tenant. The export is itself recorded (`exportAuditLog`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from analytics_gateway.audit import AuditTrail
from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput, Forbidden, GatewayError
from analytics_gateway.http.handlers import error_body, guarded, principal_of, services_of
from analytics_gateway.inputs import epoch_ms
from analytics_gateway.observability import client_error, correlation_id

log = logging.getLogger(__name__)
EXPORT = "exportAuditLog"


def _since(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return epoch_ms(datetime.fromisoformat(text))
    except ValueError:
        raise BadUserInput("since: not an ISO-8601 time", field="since") from None


async def _lines(trail: AuditTrail, tenant: str, since_ms: int | None) -> AsyncIterator[bytes]:
    try:
        async for entry in trail.export(tenant, since_ms=since_ms):
            yield orjson.dumps(entry.as_json()) + b"\n"
    except GatewayError as exc:  # the status is sent: the last line says what stopped it
        log.warning("audit export of %s stopped: %s", tenant, exc.message)
        yield orjson.dumps(error_body(*client_error(exc))) + b"\n"


async def export_audit(request: Request) -> Response:
    principal = await principal_of(request, Scope.ADMIN)
    asked = request.query_params.get("tenant")
    if asked is not None and asked != principal.tenant:
        raise Forbidden("this API key belongs to another tenant")
    since_ms = _since(request.query_params.get("since"))
    trail = services_of(request).audit
    await trail.record(
        tenant=principal.tenant,
        actor=principal.actor,
        action=EXPORT,
        request_id=correlation_id.get(),
        kind="export",
    )
    return StreamingResponse(
        _lines(trail, principal.tenant, since_ms), media_type="application/x-ndjson"
    )


def routes() -> list[BaseRoute]:
    return [Route("/audit.ndjson", guarded(export_audit), methods=["GET"])]
