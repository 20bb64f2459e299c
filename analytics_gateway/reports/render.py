"""A generated report as a self-contained HTML page (charts as inline SVG) and as a PDF
(matplotlib's PDF backend: a title page with the period and the KPI table, a page of
charts per two panels, then the insights as text). Pure and synchronous: callers run
it in a thread (`render`), never on the event loop.

Lines are thinned to at most `MAX_LINE_POINTS` points and a PDF may not pass
`MAX_PDF_BYTES`, so neither document grows with the data.
"""

from __future__ import annotations

import html
import io
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from analytics_gateway.errors import QueryTooComplex
from analytics_gateway.reports.insights import Insight, number

MAX_LINE_POINTS = 500
MAX_PDF_BYTES = 4 * 1024 * 1024
_SVG_W, _SVG_H, _PAD = 640, 200, 30
_PDF_LOCK = threading.Lock()  # matplotlib's rc settings are process-wide


@dataclass(frozen=True)
class KpiRow:
    name: str
    value: float | None
    previous: float | None
    change: float | None
    status: str
    target: float | None
    unit: str | None


@dataclass(frozen=True)
class Chart:
    """One panel's chart: the period, the previous period laid over it, anomalies, and
    the forecast of the next period with its interval."""

    subject: str
    timestamps: list[int]
    values: list[float]
    previous: list[tuple[int, float]] = field(default_factory=list)  # shifted onto the period
    anomalies: list[tuple[int, float]] = field(default_factory=list)
    forecast: list[tuple[int, float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    period: str
    previous_period: str
    kpis: list[KpiRow]
    charts: list[Chart]
    insights: list[Insight]


def _thin(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    if len(points) <= MAX_LINE_POINTS:
        return list(points)
    every = -(-len(points) // MAX_LINE_POINTS)
    return list(points[::every])


def _fmt(value: float | None) -> str:
    return "-" if value is None else number(value)


def _change(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


# -- HTML ---------------------------------------------------------------------------


def _svg(chart: Chart) -> str:
    line = _thin(list(zip(chart.timestamps, chart.values, strict=True)))
    previous = _thin(chart.previous)
    band = _thin([(t, lo) for t, _, lo, _ in chart.forecast])
    band_up = _thin([(t, up) for t, _, _, up in chart.forecast])
    guess = _thin([(t, v) for t, v, _, _ in chart.forecast])
    every = [*line, *previous, *band, *band_up, *guess, *chart.anomalies]
    if not every:
        return '<p class="empty">No data in this period.</p>'
    t0, t1 = min(p[0] for p in every), max(p[0] for p in every)
    v0, v1 = min(p[1] for p in every), max(p[1] for p in every)
    t1, v1 = (t1 if t1 > t0 else t0 + 1), (v1 if v1 > v0 else v0 + 1)

    def xy(t: int, v: float) -> str:
        x = _PAD + (t - t0) / (t1 - t0) * (_SVG_W - 2 * _PAD)
        y = _SVG_H - _PAD - (v - v0) / (v1 - v0) * (_SVG_H - 2 * _PAD)
        return f"{x:.1f},{y:.1f}"

    def poly(points: Sequence[tuple[int, float]], style: str) -> str:
        if not points:
            return ""
        return f'<polyline fill="none" {style} points="{" ".join(xy(*p) for p in points)}"/>'

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_W}" height="{_SVG_H}" '
        f'viewBox="0 0 {_SVG_W} {_SVG_H}" role="img" aria-label="{html.escape(chart.subject)}">',
        f'<rect width="{_SVG_W}" height="{_SVG_H}" fill="#fff" stroke="#ddd"/>',
    ]
    if band:
        ring = [*band, *reversed(band_up)]
        outline = " ".join(xy(*p) for p in ring)
        parts.append(f'<polygon fill="#9ecae1" fill-opacity="0.5" points="{outline}"/>')
    parts.append(poly(previous, 'stroke="#999" stroke-dasharray="4 3" stroke-width="1"'))
    parts.append(poly(line, 'stroke="#1f77b4" stroke-width="1.5"'))
    parts.append(poly(guess, 'stroke="#08519c" stroke-dasharray="2 2" stroke-width="1.5"'))
    for t, v in chart.anomalies:
        x, y = xy(t, v).split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="4" fill="#d62728"/>')
    parts.append(
        f'<text x="{_PAD}" y="{_SVG_H - 8}" font-size="10" fill="#555">{html.escape(_fmt(v0))}'
        f" to {html.escape(_fmt(v1))}</text></svg>"
    )
    return "".join(parts)


def to_html(doc: Document) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(k.name)}</td><td>{e(_fmt(k.value))}</td><td>{e(_fmt(k.previous))}</td>"
        f"<td>{e(_change(k.change))}</td><td>{e(_fmt(k.target))}</td>"
        f'<td class="{e(k.status.lower())}">{e(k.status)}</td></tr>'
        for k in doc.kpis
    )
    kpis = (
        "<table><thead><tr><th>KPI</th><th>Value</th><th>Previous</th><th>Change</th>"
        f"<th>Target</th><th>Status</th></tr></thead><tbody>{rows}</tbody></table>"
        if doc.kpis
        else ""
    )
    charts = "".join(f"<section><h2>{e(c.subject)}</h2>{_svg(c)}</section>" for c in doc.charts)
    insights = "".join(f'<li class="{e(i.kind.value)}">{e(i.sentence)}</li>' for i in doc.insights)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(doc.title)}</title><style>"
        "body{font-family:sans-serif;max-width:720px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        ".off_target{color:#b00}.on_target{color:#080}"
        "</style></head><body>"
        f"<h1>{e(doc.title)}</h1><p>{e(doc.period)} (compared with {e(doc.previous_period)})</p>"
        f"{kpis}<h2>Insights</h2><ul>{insights}</ul>{charts}</body></html>"
    )


# -- PDF ----------------------------------------------------------------------------

_A4 = (8.27, 11.69)


def _title_page(doc: Document) -> Figure:
    fig = Figure(figsize=_A4)
    fig.text(0.08, 0.92, doc.title, fontsize=20, weight="bold")
    fig.text(0.08, 0.88, doc.period, fontsize=11)
    fig.text(0.08, 0.855, f"Compared with {doc.previous_period}", fontsize=9, color="#555")
    if doc.kpis:
        ax = fig.add_axes((0.08, 0.35, 0.84, 0.45))
        ax.axis("off")
        cells = [
            [
                k.name[:40],
                _fmt(k.value),
                _fmt(k.previous),
                _change(k.change),
                _fmt(k.target),
                k.status,
            ]
            for k in doc.kpis
        ]
        table = ax.table(
            cellText=cells,
            colLabels=["KPI", "Value", "Previous", "Change", "Target", "Status"],
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
    return fig


def _chart_page(charts: Sequence[Chart]) -> Figure:
    fig = Figure(figsize=_A4)
    for index, chart in enumerate(charts):
        ax = fig.add_subplot(len(charts), 1, index + 1)
        ax.set_title(chart.subject[:80], fontsize=11)
        line = _thin(list(zip(chart.timestamps, chart.values, strict=True)))
        if chart.previous:
            ax.plot(
                *zip(*_thin(chart.previous), strict=True),
                "--",
                color="#999",
                linewidth=1,
                label="previous period",
            )
        if line:
            ax.plot(*zip(*line, strict=True), color="#1f77b4", linewidth=1.3, label="period")
        if chart.forecast:
            ts = [f[0] for f in chart.forecast]
            ax.fill_between(
                ts,
                [f[2] for f in chart.forecast],
                [f[3] for f in chart.forecast],
                color="#9ecae1",
                alpha=0.5,
                label="forecast interval",
            )
            ax.plot(ts, [f[1] for f in chart.forecast], ":", color="#08519c", label="forecast")
        if chart.anomalies:
            ax.scatter(
                *zip(*chart.anomalies, strict=True), color="#d62728", zorder=3, label="anomaly"
            )
        ax.set_xticks([])
        ax.tick_params(labelsize=8)
        if ax.get_legend_handles_labels()[0]:  # a panel with no data this period has none
            ax.legend(fontsize=7, loc="upper left")
    fig.subplots_adjust(hspace=0.35)
    return fig


def _text_pages(title: str, lines: Sequence[str]) -> list[Figure]:
    wrapped = [
        part for line in lines for part in [*textwrap.wrap(line, 95, break_on_hyphens=False), ""]
    ]
    pages = []
    per_page = 60
    for start in range(0, max(len(wrapped), 1), per_page):
        fig = Figure(figsize=_A4)
        fig.text(0.08, 0.94, title, fontsize=14, weight="bold")
        for row, text in enumerate(wrapped[start : start + per_page]):
            fig.text(0.08, 0.9 - row * 0.0137, text, fontsize=8.5)
        pages.append(fig)
    return pages


def to_pdf(doc: Document) -> bytes:
    out = io.BytesIO()
    # TrueType fonts (not Type 3), so text can be searched and extracted from the PDF; text
    # is text, never mathtext: names and label values are the tenant's, and a `$...$` in
    # them would be parsed as maths (or fail to parse)
    with (
        _PDF_LOCK,
        matplotlib.rc_context({"pdf.fonttype": 42, "text.parse_math": False}),
        PdfPages(out, metadata={"Title": doc.title}) as pdf,
    ):
        pdf.savefig(_title_page(doc))
        for start in range(0, len(doc.charts), 2):
            pdf.savefig(_chart_page(doc.charts[start : start + 2]))
        lines = [i.sentence for i in doc.insights] or ["Nothing stood out in this period."]
        for page in _text_pages("Insights", lines):
            pdf.savefig(page)
    data = out.getvalue()
    if len(data) > MAX_PDF_BYTES:
        raise QueryTooComplex(f"the report's PDF would pass {MAX_PDF_BYTES} bytes")
    return data
