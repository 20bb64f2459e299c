"""The report PDF shows the tenant's text as written: `$...$` is not matplotlib maths.

Names, chart subjects and label values come from tenants (an ingest key can write a
label value), so text that matplotlib's mathtext would refuse must still render.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from analytics_gateway.reports.insights import Insight, InsightKind
from analytics_gateway.reports.render import Chart, Document, KpiRow, to_pdf

TRICKY = r"$\undefinedcmd$ and $x^{{{{{{$"


def test_dollar_signs_and_braces_render_as_text(tmp_path: Path) -> None:
    doc = Document(
        title=f"Weekly {TRICKY}",
        period="2026-11-30 to 2026-12-07",
        previous_period="2026-11-23 to 2026-11-30",
        kpis=[KpiRow(TRICKY, 1.0, 2.0, -0.5, "OFF_TARGET", 3.0, None)],
        charts=[Chart(f"plays by sku={TRICKY}", [0, 60_000], [1.0, 2.0])],
        insights=[Insight(InsightKind.MOVER, TRICKY, {}, f"sku {TRICKY} moved most.")],
    )
    pdf = to_pdf(doc)
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian's poppler-utils) is missing; run the README's test command")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert r"$\undefinedcmd$" in text
    assert f"sku {TRICKY} moved most." in text
