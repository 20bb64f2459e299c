"""REST route for a report's PDF, a thin shell over `ReportService`.

- `GET /analytics/reports/{report_id}/pdf`: the report generated now as a PDF
  (`application/pdf`, as an attachment), over `from` and `to` (ISO-8601 times,
  both or neither) or its last complete period; the tenant's key with the read
  scope, as every REST route takes it. Errors are JSON with `extensions.code`.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from analytics_gateway.domain import Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.http.handlers import guarded, principal_of, services_of
from analytics_gateway.inputs import epoch_ms


def _instant(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return epoch_ms(datetime.fromisoformat(text))
    except ValueError:
        raise BadUserInput(f"{name}: not an ISO-8601 time", field=name) from None


async def report_pdf(request: Request) -> Response:
    principal = await principal_of(request, Scope.READ)
    start = _instant(request.query_params.get("from"), "from")
    end = _instant(request.query_params.get("to"), "to")
    if (start is None) != (end is None):
        raise BadUserInput(
            "give both from and to, or neither", field="to" if end is None else "from"
        )
    span = (start, end) if start is not None and end is not None else None
    report_id = request.path_params["report_id"]
    generated = await services_of(request).reports.generate(principal.tenant, report_id, span)
    return Response(
        generated.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="report-{generated.report.id}.pdf"'},
    )


def routes() -> list[BaseRoute]:
    return [Route("/analytics/reports/{report_id}/pdf", guarded(report_pdf), methods=["GET"])]
