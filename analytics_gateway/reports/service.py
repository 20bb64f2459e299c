"""`ReportService`: stored reports, generated on demand or on their schedule.

Generating reads everything the report shows in one batch through the loaders
(per panel: its series over the period and the four before it, for anomaly
detection and the forecast, and per driver label the series of each value over
the period and the previous one), evaluates its KPIs through `KpiService`, asks
the ML service for anomalies and a forecast, writes the insights, and renders
HTML and PDF in a thread.

The scheduled round runs on every replica but sends a report only from the
replica owning its shard of the alerting leases (`alerting.lease`): one replica
per report. What it sends goes through alerting's durable outbox (email with the
PDF attached, webhooks with the summary), under ids made of the report, the run
and the channel, so a round repeated after a crash or a lease hand-over is
refused by the outbox instead of sent twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import numpy as np

from analytics_gateway.alerting.lease import LocalOwnership, RedisOwnership, shard_of
from analytics_gateway.alerting.model import Channel, ChannelKind
from analytics_gateway.alerting.outbox import Outbox
from analytics_gateway.alerting.store import AlertDocuments
from analytics_gateway.background import on_wake_or_tick
from analytics_gateway.dashboards.results import merged
from analytics_gateway.dataloaders import Loaders
from analytics_gateway.domain import Aggregation, MetricQuery, Series
from analytics_gateway.errors import (
    BadUserInput,
    Conflict,
    GatewayError,
    NotFound,
    QueryTooComplex,
    QuotaExceeded,
)
from analytics_gateway.keyed_locks import KeyedLocks
from analytics_gateway.kpis.model import Direction, KpiDefinition, KpiStatus, KpiValue
from analytics_gateway.ml.service import MlService
from analytics_gateway.reports import insights, render
from analytics_gateway.reports.checks import check_spec
from analytics_gateway.reports.model import MAX_REPORTS, Report, ReportPanel, ReportSpec
from analytics_gateway.reports.repository import ReportRepository
from analytics_gateway.reports.schedule import (
    Period,
    is_period,
    last_complete,
    local_text,
    parse_schedule,
    previous_of,
    utc,
)
from analytics_gateway.tenant_slots import TenantSlots

log = logging.getLogger(__name__)

HISTORY_PERIODS = 4  # periods read before the report's, for anomaly detection and forecasts
MAX_RANGE_MS = 31 * 86_400_000 + 3_600_000  # a month (and a DST hour)
MAX_BUCKETS = 3_000  # per period
STEPS_MS = (3_600_000, 1_800_000, 900_000, 300_000, 60_000)
MAX_DRIVER_LABELS = 5  # labels split by when a panel has no groupBy
MIN_FORECAST_POINTS = 24
FORECAST_POINTS = 28  # at least this many buckets a period is forecast in
FORECAST_STEPS_MS = (3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000)
FORECAST_CONFIDENCE = 0.95
MAX_RENDERS = 2  # reports rendered at once in this process
# one report generated at a time per tenant, a few more waiting, the rest RATE_LIMITED:
# a tenant asking for many at once (aliases, a loop) waits for its own, not for others'
GENERATIONS_PER_TENANT = 1
WAITING_PER_TENANT = 2
RETRY_MS = 5 * 60_000  # a scheduled run that failed is tried again after this
TICK_SECONDS = 30.0
SENDABLE = frozenset({ChannelKind.EMAIL, ChannelKind.WEBHOOK})
PERIOD_WORDS = {Period.DAY: "day", Period.WEEK: "week", Period.MONTH: "month"}


class Kpis(Protocol):
    """What reports need of `KpiService`."""

    async def get(self, tenant: str, kpi_id: str) -> KpiDefinition: ...

    async def evaluate(
        self, tenant: str, kpi_id: str, start_ms: int, end_ms: int, loaders: Loaders | None = None
    ) -> KpiValue: ...


LoaderFactory = Callable[[str], Loaders]
Ownership = LocalOwnership | RedisOwnership


@dataclass(frozen=True)
class Generated:
    """One generated report: its period, KPI values, insights, and both documents."""

    report: Report
    start_ms: int
    end_ms: int
    previous_start_ms: int
    previous_end_ms: int
    kpis: list[KpiValue]
    insights: list[insights.Insight]
    html: str
    pdf: bytes

    @property
    def period_text(self) -> str:
        zone = self.report.spec.time_zone
        return f"{local_text(self.start_ms, zone)} to {local_text(self.end_ms, zone)}"

    @property
    def previous_text(self) -> str:
        zone = self.report.spec.time_zone
        return (
            f"{local_text(self.previous_start_ms, zone)} to "
            f"{local_text(self.previous_end_ms, zone)}"
        )


@dataclass
class _PanelData:
    panel: ReportPanel
    total: Series
    groups: dict[str, list[Series]]


def step_for(*instants: int) -> int:
    """The coarsest round step every boundary of the report falls on."""
    for step in STEPS_MS:
        if all(t % step == 0 for t in instants):
            return step
    raise BadUserInput("from and to must fall on whole minutes", field="from")


def checked_range(start_ms: int, end_ms: int) -> None:
    if start_ms >= end_ms:
        raise BadUserInput("from must be before to", field="from")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise BadUserInput("from/to: at most 31 days apart", field="from")


class ReportService:
    def __init__(
        self,
        repository: ReportRepository,
        kpis: Kpis,
        ml: MlService,
        docs: AlertDocuments,
        outbox: Outbox,
        ownership: Ownership,
        loaders: LoaderFactory,
        label_names: Callable[[str, str], Awaitable[list[str]]],
        clock: Callable[[], int],
    ) -> None:
        self.repository = repository
        self._kpis = kpis
        self._ml = ml
        self._docs = docs
        self._outbox = outbox
        self._ownership = ownership
        self._creating = KeyedLocks()
        self._loaders = loaders
        self._label_names = label_names
        self._clock = clock
        self._renders = asyncio.Semaphore(MAX_RENDERS)
        self._generations = TenantSlots(
            _per_tenant, "report generations", max_waiting=WAITING_PER_TENANT
        )
        self._round = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failed: dict[tuple[str, str, int], int] = {}

    # -- definitions ---------------------------------------------------------------

    async def _checked(self, tenant: str, spec: ReportSpec) -> ReportSpec:
        spec = check_spec(spec)
        for index, kpi_id in enumerate(spec.kpis):
            try:
                await self._kpis.get(tenant, kpi_id)
            except NotFound:
                raise BadUserInput(
                    f"kpis: no KPI {kpi_id[:100]!r}", field="kpis", index=index
                ) from None
        for index, channel_id in enumerate(spec.recipients):
            channel = await self._docs.channel(tenant, channel_id)
            if channel is None:
                raise BadUserInput(
                    f"recipients: no channel {channel_id[:100]!r}; create it with "
                    "createChannel first",
                    field="recipients",
                    index=index,
                )
            if channel.kind not in SENDABLE:
                raise BadUserInput(
                    f"recipients: channel {channel.name!r} is {channel.kind.value}; reports go "
                    "to email and webhook channels",
                    field="recipients",
                    index=index,
                )
        return spec

    async def create(self, tenant: str, spec: ReportSpec) -> Report:
        checked = await self._checked(tenant, spec)
        async with self._creating.hold(tenant):  # the count holds until it is stored
            if len(await self.repository.list(tenant)) >= MAX_REPORTS:
                raise QuotaExceeded(
                    f"a tenant holds at most {MAX_REPORTS} reports", field="reports"
                )
            report = await self.repository.create(tenant, checked)
        self._wake.set()
        return report

    async def update(
        self, tenant: str, report_id: str, spec: ReportSpec, expected_version: int
    ) -> Report:
        checked = await self._checked(tenant, spec)
        report = await self.repository.update(tenant, report_id, checked, expected_version)
        self._wake.set()
        return report

    async def delete(self, tenant: str, report_id: str) -> bool:
        return await self.repository.delete(tenant, report_id)

    # -- generation ----------------------------------------------------------------

    async def generate(
        self, tenant: str, report_id: str, span: tuple[int, int] | None = None
    ) -> Generated:
        """The report over `span` ([from, to)), or over its last complete period."""
        report = await self.repository.get(tenant, report_id)
        async with self._generations.slot(tenant):
            return await self._generate(tenant, report, span or self.last_period(report))

    def last_period(self, report: Report, now_ms: int | None = None) -> tuple[int, int]:
        now = self._clock() if now_ms is None else now_ms
        return last_complete(report.spec.period, now, report.spec.time_zone)

    async def _generate(self, tenant: str, report: Report, span: tuple[int, int]) -> Generated:
        spec = report.spec
        start, end = span
        checked_range(start, end)
        previous = previous_of(spec.period, start, end, spec.time_zone)
        length = end - start
        step = step_for(start, end, previous[0])
        if length // step > MAX_BUCKETS:
            raise QueryTooComplex(f"more than {MAX_BUCKETS} buckets in the period", field="from")
        history_start = (previous[0] - (HISTORY_PERIODS - 1) * length) // step * step
        loaders = self._loaders(tenant)
        kpi_values, panel_data = await asyncio.gather(
            self._kpi_values(tenant, spec.kpis, span, loaders),
            self._read_panels(tenant, spec.panels, history_start, previous[0], end, step, loaders),
        )
        calendar = is_period(spec.period, start, end, spec.time_zone)
        word = PERIOD_WORDS[spec.period] if calendar else "period"
        per_panel = await asyncio.gather(
            *(self._panel(tenant, d, span, previous, step, word, spec.time_zone)
              for d in panel_data)
        )  # fmt: skip
        found = [insight for panel_insights, _ in per_panel for insight in panel_insights]
        charts = [chart for _, chart in per_panel]
        found += _kpi_insights(kpi_values)
        document = render.Document(
            title=spec.name,
            period=f"{local_text(start, spec.time_zone)} to {local_text(end, spec.time_zone)}",
            previous_period=(
                f"{local_text(previous[0], spec.time_zone)} to "
                f"{local_text(previous[1], spec.time_zone)}"
            ),
            kpis=[_kpi_row(v) for v in kpi_values],
            charts=charts,
            insights=found,
        )
        async with self._renders:
            html, pdf = await asyncio.to_thread(_render_both, document)
        return Generated(report, start, end, *previous, kpi_values, found, html, pdf)

    async def _kpi_values(
        self, tenant: str, kpi_ids: Sequence[str], span: tuple[int, int], loaders: Loaders
    ) -> list[KpiValue]:
        answers = await asyncio.gather(
            *(self._kpis.evaluate(tenant, k, span[0], span[1], loaders) for k in kpi_ids),
            return_exceptions=True,
        )
        values = []
        for kpi_id, answer in zip(kpi_ids, answers, strict=True):
            if isinstance(answer, NotFound):
                log.info("report KPI %s was deleted; left out", kpi_id)
                continue
            if isinstance(answer, BaseException):
                raise answer
            values.append(answer)
        return values

    async def _read_panels(
        self,
        tenant: str,
        panels: Sequence[ReportPanel],
        history_start: int,
        previous_start: int,
        end: int,
        step: int,
        loaders: Loaders,
    ) -> list[_PanelData]:
        split_by = await asyncio.gather(*(self._driver_labels(tenant, p) for p in panels))
        queries: list[MetricQuery] = []
        for panel, labels in zip(panels, split_by, strict=True):
            filters = tuple(sorted(panel.labels.items()))

            def query(
                start: int,
                group_by: tuple[str, ...],
                panel: ReportPanel = panel,
                filters: tuple[tuple[str, str], ...] = filters,
            ) -> MetricQuery:
                return MetricQuery(
                    tenant, panel.name, filters, start, end, step, panel.aggregation, group_by
                )

            queries.append(query(history_start, ()))
            queries += [query(previous_start, (label,)) for label in labels]
        answers = await loaders.metrics.load_many(queries)
        out, at = [], 0
        for panel, labels in zip(panels, split_by, strict=True):
            total = merged(list(answers[at]), panel.name)
            groups = {label: list(answers[at + 1 + i]) for i, label in enumerate(labels)}
            out.append(_PanelData(panel, total, groups))
            at += 1 + len(labels)
        return out

    async def _driver_labels(self, tenant: str, panel: ReportPanel) -> tuple[str, ...]:
        """The panel's groupBy, else the metric's labels it does not filter on (a few)."""
        if panel.group_by is not None:
            return panel.group_by
        names = await self._label_names(tenant, panel.name)
        return tuple(n for n in names if n not in panel.labels)[:MAX_DRIVER_LABELS]

    async def _panel(
        self,
        tenant: str,
        data: _PanelData,
        span: tuple[int, int],
        previous: tuple[int, int],
        step: int,
        word: str,
        zone: str,
    ) -> tuple[list[insights.Insight], render.Chart]:
        panel, total = data.panel, data.total
        subject = panel.subject
        found: list[insights.Insight] = []
        moved = insights.mover(subject, total, data.groups, panel.aggregation, span, previous, word)
        if moved is not None:
            found.append(moved)
        flagged = await self._anomalies(tenant, total, span)
        when = {f.timestamp_ms: local_text(f.timestamp_ms, zone) for f in flagged}
        found += insights.anomalies(subject, flagged, when)
        next_span = (span[1], span[1] + (span[1] - span[0]))
        forecast, points = await self._forecast(
            tenant, total, panel.aggregation, span, next_span, step
        )
        if forecast is not None:
            value, lower, upper, model = forecast
            found.append(
                insights.forecast(
                    subject, value, lower, upper, FORECAST_CONFIDENCE, model, next_span, word
                )
            )
        shift = span[0] - previous[0]
        lo, hi = np.searchsorted(total.timestamps, [span[0], span[1]]).tolist()
        plo, phi = np.searchsorted(total.timestamps, [previous[0], previous[1]]).tolist()
        chart = render.Chart(
            subject=subject,
            timestamps=total.timestamps[lo:hi],
            values=total.values[lo:hi],
            previous=[
                (t + shift, v)
                for t, v in zip(total.timestamps[plo:phi], total.values[plo:phi], strict=True)
            ],
            anomalies=[(f.timestamp_ms, f.value) for f in flagged],
            forecast=points,
        )
        return found, chart

    async def _anomalies(
        self, tenant: str, total: Series, span: tuple[int, int]
    ) -> list[insights.Flagged]:
        if len(total.values) < MIN_FORECAST_POINTS:
            return []
        try:
            [result] = await self._ml.detect(tenant, [total])
        except (BadUserInput, QueryTooComplex) as exc:
            log.info("report anomalies of %s left out: %s", total.name, exc.message)
            return []
        return [
            insights.Flagged(
                int(result.timestamps[i]), float(result.values[i]), float(result.scores[i])
            )
            for i in np.flatnonzero(result.alerts).tolist()
            if span[0] <= result.timestamps[i] < span[1]
        ]

    async def _forecast(
        self,
        tenant: str,
        total: Series,
        aggregation: Aggregation,
        span: tuple[int, int],
        next_span: tuple[int, int],
        step: int,
    ) -> tuple[tuple[float, float, float, str] | None, list[tuple[int, float, float, float]]]:
        """The next period's value and interval (the aggregation over the forecast buckets
        and over their bounds), and the forecast points for the chart. The history is
        put in coarser buckets first (the coarsest of `FORECAST_STEPS_MS` that leaves
        `FORECAST_POINTS` a period: 6 h for a week, a day for a month): forecasts cost
        with their points, and a period's value needs no finer ones."""
        length = span[1] - span[0]
        chunk = max(
            (c for c in FORECAST_STEPS_MS if c % step == 0 and length // c >= FORECAST_POINTS),
            default=step,
        )
        history = _coarser(total, aggregation, span[1], chunk, chunk // step)
        if len(history.values) < MIN_FORECAST_POINTS:
            return None, []
        horizon = str(-(-(next_span[1] - next_span[0]) // chunk))
        try:
            made = await self._ml.forecast(tenant, history, horizon, FORECAST_CONFIDENCE, None)
        except (BadUserInput, QueryTooComplex) as exc:
            log.info("report forecast of %s left out: %s", total.name, exc.message)
            return None, []
        fc = made.forecast
        points = list(zip(fc.timestamps_ms, fc.values, fc.lower, fc.upper, strict=True))
        inside = [p for p in points if next_span[0] <= p[0] < next_span[1]]
        value = insights.period_value([p[1] for p in inside], aggregation)
        lower = insights.period_value([p[2] for p in inside], aggregation)
        upper = insights.period_value([p[3] for p in inside], aggregation)
        # the chart draws the fine buckets: a total over a coarse one is shared out
        share = chunk // step if aggregation in (Aggregation.SUM, Aggregation.COUNT) else 1
        drawn = [(t, v / share, lo / share, up / share) for t, v, lo, up in points]
        if value is None or lower is None or upper is None:
            return None, drawn
        return (value, lower, upper, fc.model), drawn

    # -- the scheduled round ---------------------------------------------------------

    async def run(self) -> None:
        await on_wake_or_tick(self._wake, TICK_SECONDS, self.run_due, "report round failed")

    async def run_due(self) -> int:
        """Send every owned report whose scheduled run has come; how many were sent."""
        async with self._round:
            now = self._clock()
            self._failed = {k: v for k, v in self._failed.items() if v > now - 86_400_000}
            sent = 0
            for tenant in await self.repository.tenants():
                for report in await self.repository.list(tenant):
                    if report.spec.schedule is None:
                        continue
                    if not self._ownership.owns(shard_of(tenant, f"report:{report.id}")):
                        continue
                    sent += await self._run_one(tenant, report, now)
            return sent

    async def _run_one(self, tenant: str, report: Report, now: int) -> int:
        assert report.spec.schedule is not None
        schedule = parse_schedule(report.spec.schedule)
        version, last = await self.repository.last_run(tenant, report.id)
        run = schedule.latest_run(now, max(last, report.created_at_ms))
        if run is None:
            return 0
        key = (tenant, report.id, run)
        if self._failed.get(key, 0) > now:
            return 0
        try:
            generated = await self._generate(tenant, report, self.last_period(report, run))
            await self._outbox.enqueue(await self._notifications(tenant, generated, run))
        except GatewayError as exc:
            log.warning("report %s/%s not sent: %s", tenant, report.id, exc.message)
            self._failed[key] = now + RETRY_MS
            return 0
        except Exception:  # one report that cannot be made holds up no other
            log.exception("report %s/%s not sent", tenant, report.id)
            self._failed[key] = now + RETRY_MS
            return 0
        self._failed.pop(key, None)
        try:
            await self.repository.mark_run(tenant, report.id, run, version)
        except Conflict:
            return 0  # another replica marked it: the outbox kept one of each notification
        return 1

    async def _notifications(
        self, tenant: str, generated: Generated, run_ms: int
    ) -> list[dict[str, Any]]:
        report = generated.report
        summary = summary_of(generated)
        out = []
        for channel_id in report.spec.recipients:
            channel = await self._docs.channel(tenant, channel_id)
            if channel is None or channel.kind not in SENDABLE:
                log.warning("report %s/%s: channel %s is gone", tenant, report.id, channel_id)
                continue
            out.append(_notification(tenant, generated, summary, channel, run_ms, self._clock()))
        return out


def _coarser(
    series: Series, aggregation: Aggregation, end_ms: int, chunk_ms: int, per_chunk: int
) -> Series:
    """`series` before `end_ms` in buckets of `chunk_ms` ending at `end_ms`; only whole
    buckets (all `per_chunk` of their fine buckets present) are kept."""
    chunks: dict[int, list[float]] = {}
    for ts, value in zip(series.timestamps, series.values, strict=True):
        if ts < end_ms:
            start = end_ms - -(-(end_ms - ts) // chunk_ms) * chunk_ms
            chunks.setdefault(start, []).append(value)
    out = Series(series.name, dict(series.labels))
    for start in sorted(chunks):
        combined = insights.period_value(chunks[start], aggregation)
        if len(chunks[start]) == per_chunk and combined is not None:
            out.timestamps.append(start)
            out.values.append(combined)
    return out


async def _per_tenant(tenant: str) -> int:
    return GENERATIONS_PER_TENANT


def _render_both(document: render.Document) -> tuple[str, bytes]:
    return render.to_html(document), render.to_pdf(document)


def _kpi_row(value: KpiValue) -> render.KpiRow:
    d = value.definition
    return render.KpiRow(
        d.name, value.value, value.previous, value.change, value.status.name, d.target, d.unit
    )


def _kpi_insights(values: Sequence[KpiValue]) -> list[insights.Insight]:
    out = []
    for v in values:
        d = v.definition
        if v.status is KpiStatus.OFF_TARGET and v.value is not None and d.target is not None:
            higher = d.direction is Direction.HIGHER
            out.append(insights.kpi_off_target(d.name, v.value, d.target, higher, d.unit))
    return out


def summary_of(generated: Generated) -> dict[str, Any]:
    """What a webhook receives (and the mail's text is written from): the period, the
    KPIs and the insights, no PDF."""
    return {
        "reportId": generated.report.id,
        "reportName": generated.report.spec.name,
        "period": {
            "from": generated.start_ms,
            "to": generated.end_ms,
            "text": generated.period_text,
        },
        "kpis": [
            {
                "id": v.definition.id,
                "name": v.definition.name,
                "value": v.value,
                "previous": v.previous,
                "change": v.change,
                "status": v.status.name,
                "target": v.definition.target,
            }
            for v in generated.kpis
        ],
        "insights": [i.as_json() for i in generated.insights],
        "pdfPath": pdf_path(generated.report.id, generated.start_ms, generated.end_ms),
    }


def pdf_path(report_id: str, start_ms: int, end_ms: int) -> str:
    """Where the gateway serves this report's PDF (`GET`, with the tenant's key)."""
    span = {"from": utc(start_ms).isoformat(), "to": utc(end_ms).isoformat()}
    return f"/analytics/reports/{report_id}/pdf?{urlencode(span)}"


def text_of(generated: Generated) -> str:
    lines = [generated.report.spec.name, generated.period_text, ""]
    for v in generated.kpis:
        value = "-" if v.value is None else insights.number(v.value)
        lines.append(f"{v.definition.name}: {value} ({v.status.name})")
    lines += ["", *[i.sentence for i in generated.insights]]
    return "\n".join(lines) + "\n"


def notification_id(tenant: str, report_id: str, run_ms: int, channel_id: str) -> str:
    raw = "\x1f".join(("report", tenant, report_id, str(run_ms), channel_id))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _notification(
    tenant: str,
    generated: Generated,
    summary: dict[str, Any],
    channel: Channel,
    run_ms: int,
    now_ms: int,
) -> dict[str, Any]:
    report = generated.report
    notification: dict[str, Any] = {
        "id": notification_id(tenant, report.id, run_ms, channel.id),
        "tenant": tenant,
        "kind": "report",
        "status": "report",
        "target": channel.name,
        "channelId": channel.id,
        "runAt": run_ms,
        "createdAt": now_ms,
        "subject": f"{report.spec.name}: {generated.period_text}",
        **summary,
    }
    if channel.kind is ChannelKind.EMAIL:
        notification["text"] = text_of(generated)
        notification["attachments"] = [
            {
                "filename": f"report-{report.id}.pdf",
                "contentType": "application/pdf",
                "data": base64.b64encode(generated.pdf).decode(),
            }
        ]
    return notification


__all__ = ["Generated", "ReportService"]
