"""Business reports end to end, on an injected clock.

Generated hourly data holds a planted change (Germany's plays double in the last
week), a planted anomaly (one hour of latency at four times its level) and a KPI
off its target. `generateReport` must name the driver with the contribution
computed here in plain Python, the anomaly's hour and the KPI; its PDF is
rendered to PNG by `pdftoppm` (not blank) and read back by `pdftotext` (the KPIs
and every insight sentence). A scheduled run then mails the PDF to a real
aiosmtpd server and posts the summary to a real Starlette webhook receiver,
once. Runs on the embedded stores and with `--backends production`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from matplotlib import image
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from analytics_gateway.app import create_app
from analytics_gateway.config import Settings
from analytics_gateway.services import Services
from tests.conftest import GraphQLClient, MakeKey, asgi_transport, make_settings, started
from tests.fixtures.alert_receivers import WEBHOOK_SECRET, HttpReceiver, SmtpReceiver

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3_600_000
BASE = {"DE": 10, "FR": 6, "SE": 4, "US": 8}
WEEKS = 6

REPORT_FIELDS = "id version name kpis period schedule timeZone recipients nextRunAt"
CREATE = f"mutation($r: ReportInput!) {{ createReport(input: $r) {{ {REPORT_FIELDS} }} }}"
GENERATE = """query($id: ID!, $from: DateTime, $to: DateTime) {
  generateReport(id: $id, from: $from, to: $to) {
    reportId from to previousFrom previousTo periodText
    kpis { id name value previous change target status }
    insights { kind subject sentence figures }
    html pdf pdfBytes
  }
}"""
CREATE_KPI = "mutation($k: KpiInput!) { createKpi(input: $k) { id } }"
CREATE_CHANNEL = "mutation($c: ChannelInput!) { createChannel(input: $c) { id name } }"


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def paris_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def last_monday_8am() -> datetime:
    """A Monday 08:00 in Paris, at least two days before the real now."""
    day = (datetime.now(PARIS) - timedelta(days=2)).date()
    day -= timedelta(days=day.weekday())
    return datetime.combine(day, clock_time(8, 0), tzinfo=PARIS)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # the receivers listen on loopback, which the egress policy refuses unless allowed;
    # ML workers start with the app, as a gateway serving reports would run them
    return make_settings(tmp_path / "data", egress_allow="127.0.0.1/32", ml_prestart_workers=True)


@pytest.fixture
def clock() -> Clock:
    return Clock(paris_ms(last_monday_8am()) - 60_000)  # Monday 07:59


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[Starlette]:
    async with started(create_app(settings, registry=CollectorRegistry(), clock=clock)) as app:
        warmed_up = services_of(app).ml.warmed_up
        assert warmed_up is not None
        async with asyncio.timeout(300):  # the workers' start, on a busy machine
            await asyncio.shield(warmed_up)
        yield app


@contextlib.asynccontextmanager
async def client_for(app: Starlette, key: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://gw") as http:
        yield GraphQLClient(http, key)


@pytest.fixture
async def acme(app: Starlette, make_key: MakeKey) -> AsyncIterator[GraphQLClient]:
    async with client_for(app, await make_key("acme", "ingest,read,write,admin")) as client:
        yield client


@pytest.fixture
async def globex(app: Starlette, make_key: MakeKey) -> AsyncIterator[GraphQLClient]:
    async with client_for(app, await make_key("globex", "ingest,read,write,admin")) as client:
        yield client


def services_of(app: Starlette) -> Services:
    services: Services = app.state.gateway.services
    return services


async def data(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def error(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = await gql.execute(query, variables)
    assert body.get("errors"), body
    return body["errors"][0]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class Planted:
    """The generated points and the facts the report must find in them."""

    def __init__(self, monday: datetime) -> None:
        self.week_end = paris_ms(datetime.combine(monday.date(), clock_time(0), tzinfo=PARIS))
        start_day = monday.date() - timedelta(days=7)
        self.week_start = paris_ms(datetime.combine(start_day, clock_time(0), tzinfo=PARIS))
        before_day = start_day - timedelta(days=7)
        self.prev_start = paris_ms(datetime.combine(before_day, clock_time(0), tzinfo=PARIS))
        first = self.week_end - WEEKS * 7 * 24 * HOUR
        rng = random.Random(11)
        self.points: list[dict[str, Any]] = []
        self.spike = self.week_start + 2 * 24 * HOUR + 14 * HOUR  # Wednesday afternoon
        for hour in range(first, paris_ms(monday) - HOUR, HOUR):
            at = hour + HOUR // 2
            in_week = self.week_start <= hour < self.week_end
            for country, base in BASE.items():
                value = base + rng.randint(0, 3)
                if country == "DE" and in_week:
                    value *= 2
                self.add("plays", value, at, {"country": country})
            latency = 400.0 if hour == self.spike else 100 + rng.gauss(0, 2)
            self.add("latency_ms", round(latency, 3), at, {})
            self.add("revenue", 5 + rng.randint(0, 2), at, {})

    def add(self, name: str, value: float, at: int, labels: dict[str, str]) -> None:
        self.points.append({"name": name, "value": value, "timestamp": at, "labels": labels})

    def total(self, name: str, start: int, end: int, **labels: str) -> float:
        return float(
            sum(
                p["value"]
                for p in self.points
                if p["name"] == name
                and start <= p["timestamp"] < end
                and all(p["labels"].get(k) == v for k, v in labels.items())
            )
        )

    def contribution(self, country: str) -> float:
        week, prev = (self.week_start, self.week_end), (self.prev_start, self.week_start)
        change = self.total("plays", *week) - self.total("plays", *prev)
        own = self.total("plays", *week, country=country) - self.total(
            "plays", *prev, country=country
        )
        return own / change


async def ingest(gql: GraphQLClient, points: list[dict[str, Any]]) -> None:
    for start in range(0, len(points), 2000):
        response = await gql.http.post(
            "/analytics/metrics",
            json=points[start : start + 2000],
            headers={"Authorization": f"Bearer {gql.key}"},
        )
        assert response.status_code == 200, response.text


async def setup_report(
    acme: GraphQLClient, http: HttpReceiver | None, smtp: SmtpReceiver | None
) -> tuple[dict[str, Any], dict[str, str]]:
    kpis = {}
    for name, metric, target in (("Weekly revenue", "revenue", 10_000.0), ("Plays", "plays", 1.0)):
        made = await data(
            acme,
            CREATE_KPI,
            {"k": {"name": name, "formula": metric, "aggregation": "SUM", "target": target}},
        )
        kpis[name] = made["createKpi"]["id"]
    recipients = []
    if http is not None and smtp is not None:
        hook = await data(acme, CREATE_CHANNEL, {"c": {
            "name": "report-hook", "kind": "WEBHOOK", "url": http.url("/hook-reports"),
            "secret": WEBHOOK_SECRET,
        }})  # fmt: skip
        mail = await data(acme, CREATE_CHANNEL, {"c": {
            "name": "report-mail", "kind": "EMAIL", "smtpHost": "127.0.0.1",
            "smtpPort": smtp.port, "sender": "reports@example.com",
            "recipients": ["team@example.com"],
        }})  # fmt: skip
        recipients = [hook["createChannel"]["id"], mail["createChannel"]["id"]]
    report = {
        "name": "Weekly business",
        "kpis": list(kpis.values()),
        "panels": [
            {"metric": "plays", "aggregation": "SUM", "groupBy": ["country"], "title": "Plays"},
            {"metric": "latency_ms", "aggregation": "AVG", "title": "Latency"},
        ],
        "period": "WEEK",
        "schedule": "every Monday 08:00 Europe/Paris",
        "recipients": recipients,
    }
    created = (await data(acme, CREATE, {"r": report}))["createReport"]
    return created, kpis


def of_kind(insights: list[dict[str, Any]], kind: str, subject: str) -> list[dict[str, Any]]:
    return [i for i in insights if i["kind"] == kind and i["subject"] == subject]


async def run(*command: str) -> str:
    """A command's output (a poppler tool), in a thread: the event loop goes on."""
    done = await asyncio.to_thread(
        subprocess.run, command, check=True, capture_output=True, text=True, timeout=60
    )
    return str(done.stdout)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


async def test_generated_report_finds_the_planted_facts_and_renders(
    app: Starlette, acme: GraphQLClient, clock: Clock, tmp_path: Path
) -> None:
    planted = Planted(last_monday_8am())
    await ingest(acme, planted.points)
    report, kpis = await setup_report(acme, None, None)
    assert report["timeZone"] == "Europe/Paris"
    assert report["nextRunAt"] == iso(clock.now + 60_000)

    clock.now += 60_000 + 30_000  # Monday 08:00:30
    generated = (await data(acme, GENERATE, {"id": report["id"]}))["generateReport"]
    assert (generated["from"], generated["to"]) == (iso(planted.week_start), iso(planted.week_end))
    assert generated["previousFrom"] == iso(planted.prev_start)

    # (a) the mover and its driver
    insights = generated["insights"]
    [mover] = of_kind(insights, "MOVER", "Plays")
    week, prev = (planted.week_start, planted.week_end), (planted.prev_start, planted.week_start)
    assert mover["figures"]["current"] == pytest.approx(planted.total("plays", *week))
    assert mover["figures"]["previous"] == pytest.approx(planted.total("plays", *prev))
    driver = mover["figures"]["drivers"][0]
    assert (driver["label"], driver["value"]) == ("country", "DE")
    expected = planted.contribution("DE")
    assert driver["contribution"] == pytest.approx(expected, rel=1e-9)
    assert 0.8 < expected < 1.2  # the other countries' noise moves the total a little
    assert f"country=DE explains {expected * 100:.1f}%" in mover["sentence"]
    assert mover["sentence"].startswith("Plays rose")
    # (b) the anomaly's hour
    spikes = of_kind(insights, "ANOMALY", "Latency")
    assert planted.spike in [a["figures"]["timestamp"] for a in spikes], spikes
    local = datetime.fromtimestamp(planted.spike / 1000, PARIS).strftime("%Y-%m-%d %H:%M")
    assert any(local in a["sentence"] for a in spikes)
    # (c) a forecast with its interval
    [forecast] = of_kind(insights, "FORECAST", "Plays")
    figures = forecast["figures"]
    assert figures["lower"] <= figures["value"] <= figures["upper"]
    assert (figures["from"], figures["to"]) == (
        planted.week_end,
        2 * planted.week_end - planted.week_start,
    )
    # (d) the KPI off target, and only it
    revenue = planted.total("revenue", *week)
    by_name = {k["name"]: k for k in generated["kpis"]}
    assert by_name["Weekly revenue"]["value"] == pytest.approx(revenue)
    assert (by_name["Weekly revenue"]["status"], by_name["Plays"]["status"]) == (
        "OFF_TARGET", "ON_TARGET",
    )  # fmt: skip
    [off] = [i for i in insights if i["kind"] == "KPI_OFF_TARGET"]
    assert off["subject"] == "Weekly revenue"
    assert off["figures"]["target"] == 10_000
    assert by_name["Weekly revenue"]["id"] == kpis["Weekly revenue"]

    # the documents
    html = generated["html"]
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 2
    assert "Weekly revenue" in html
    assert "<script" not in html
    pdf = base64.b64decode(generated["pdf"])
    assert pdf.startswith(b"%PDF")
    assert len(pdf) == generated["pdfBytes"]
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    assert shutil.which("pdftoppm"), "install poppler-utils"
    assert shutil.which("pdftotext"), "install poppler-utils"
    for page in (1, 2):
        png = tmp_path / f"page{page}"
        await run("pdftoppm", "-png", "-r", "40", "-f", str(page), "-l", str(page),
                  "-singlefile", str(path), str(png))  # fmt: skip
        pixels = image.imread(png.with_suffix(".png"))
        inked = (pixels[..., :3].mean(axis=2) < 0.9).mean()
        assert inked > 0.005, f"page {page} is blank ({inked:.4f} inked)"
    text = flat(await run("pdftotext", str(path), "-"))
    assert "Weekly revenue" in text
    assert "OFF_TARGET" in text
    assert "Plays" in text
    for insight in insights:
        assert flat(insight["sentence"]) in text, insight["sentence"]


async def test_a_scheduled_run_mails_the_pdf_and_posts_the_summary_once(
    app: Starlette,
    acme: GraphQLClient,
    globex: GraphQLClient,
    clock: Clock,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    planted = Planted(last_monday_8am())
    await ingest(acme, planted.points)
    report, _ = await setup_report(acme, http_receiver, smtp_receiver)
    services = services_of(app)
    assert await services.reports.run_due() == 0  # 07:59: not due yet
    clock.now += 90_000
    # two rounds at once (a wake-up and the tick): the report is sent by one of them
    assert sum(await asyncio.gather(services.reports.run_due(), services.reports.run_due())) == 1
    deadline = time.monotonic() + 60
    while len(smtp_receiver.messages) < 1 or not http_receiver.at("/hook-reports"):
        assert time.monotonic() < deadline, "the report was not delivered"
        await services.alerts.deliver_now()
    mail = smtp_receiver.messages[0]
    assert mail["Subject"].startswith("Weekly business: ")
    assert mail["To"] == "team@example.com"
    parts = {part.get_content_type(): part for part in mail.walk()}
    attached = parts["application/pdf"]
    assert attached.get_filename() == f"report-{report['id']}.pdf"
    payload = attached.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.startswith(b"%PDF")
    text = parts["text/plain"].get_payload(decode=True)
    assert isinstance(text, bytes)
    body = text.decode()
    assert "country=DE explains" in body
    [hook] = http_receiver.at("/hook-reports")
    assert hook.signed
    assert hook.body["reportId"] == report["id"]
    assert hook.body["kind"] == "report"
    assert hook.body["period"]["from"] == planted.week_start
    kinds = {i["kind"] for i in hook.body["insights"]}
    assert {"mover", "anomaly", "kpi_off_target"} <= kinds
    assert "attachments" not in hook.body

    # the webhook's link serves the PDF of that period, to this tenant's key only
    path = hook.body["pdfPath"]
    assert path.startswith(f"/analytics/reports/{report['id']}/pdf?")
    served = await acme.http.get(path, headers={"Authorization": f"Bearer {acme.key}"})
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.content.startswith(b"%PDF")
    assert (await acme.http.get(path)).status_code == 401
    other = await acme.http.get(path, headers={"Authorization": f"Bearer {globex.key}"})
    assert other.status_code == 404
    assert other.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    half = path.split("&to=")[0]
    refused = await acme.http.get(half, headers={"Authorization": f"Bearer {acme.key}"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["field"] == "to"

    # the same run is not sent again, by this round or a later one
    assert await services.reports.run_due() == 0
    clock.now += 6 * 24 * HOUR
    assert await services.reports.run_due() == 0
    await services.alerts.deliver_now()
    assert len(smtp_receiver.messages) == 1
    assert len(http_receiver.at("/hook-reports")) == 1


async def test_tenants_see_only_their_own_reports(
    acme: GraphQLClient, globex: GraphQLClient, http_receiver: HttpReceiver
) -> None:
    hook = await data(acme, CREATE_CHANNEL, {"c": {
        "name": "acme-hook", "kind": "WEBHOOK", "url": http_receiver.url("/hook-a"),
        "secret": WEBHOOK_SECRET,
    }})  # fmt: skip
    kpi = await data(acme, CREATE_KPI, {"k": {"name": "R", "formula": "revenue",
                                              "aggregation": "SUM"}})  # fmt: skip
    report = {
        "name": "Acme only",
        "kpis": [kpi["createKpi"]["id"]],
        "panels": [{"metric": "plays"}],
        "schedule": "every day 07:30 UTC",
        "recipients": [hook["createChannel"]["id"]],
    }
    created = (await data(acme, CREATE, {"r": report}))["createReport"]
    assert (await data(globex, "{ reports { id } }"))["reports"] == []
    assert [r["id"] for r in (await data(acme, "{ reports { id } }"))["reports"]] == [created["id"]]
    lookups = [
        ("query($id: ID!) { report(id: $id) { id } }", {}),
        (GENERATE, {}),
        ("mutation($id: ID!) { deleteReport(id: $id) }", {}),
        (
            "mutation($id: ID!, $r: ReportInput!) { updateReport(id: $id, version: 1, input: $r)"
            " { id } }",
            {"r": {**report, "kpis": [], "recipients": []}},
        ),
    ]
    for query, extra in lookups:
        found = await error(globex, query, {"id": created["id"], **extra})
        assert found["extensions"]["code"] == "NOT_FOUND", found
    # another tenant's channel and KPI ids are not its own
    for field, value in (("recipients", report["recipients"]), ("kpis", report["kpis"])):
        refused = await error(globex, CREATE, {"r": {**report, "kpis": [], "recipients": [],
                                                     field: value}})  # fmt: skip
        assert (refused["extensions"]["code"], refused["extensions"]["field"]) == (
            "BAD_USER_INPUT", field,
        )  # fmt: skip
    assert (await data(acme, "query($id: ID!) { report(id: $id) { name } }",
                       {"id": created["id"]}))["report"]["name"] == "Acme only"  # fmt: skip


async def test_bad_input_is_refused_with_the_field(
    acme: GraphQLClient, make_key: MakeKey, app: Starlette, http_receiver: HttpReceiver
) -> None:
    channel = {"name": "s", "kind": "SLACK", "url": http_receiver.url("/slack")}
    slack = await data(acme, CREATE_CHANNEL, {"c": channel})
    good: dict[str, Any] = {"name": "R", "panels": [{"metric": "plays"}]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "schedule": "every fortnight 08:00 UTC"}, "schedule"),
        ({**good, "schedule": "every Monday 08:00 Mars/Olympus"}, "schedule"),
        ({**good, "panels": [{"metric": "plays"}] * 9}, "panels"),
        ({**good, "panels": [{"metric": "bad name!"}]}, "panels"),
        ({**good, "panels": [{"metric": "plays", "groupBy": ["a", "b", "c", "d"]}]}, "panels"),
        ({**good, "panels": []}, "panels"),
        ({**good, "name": ""}, "name"),
        ({**good, "name": "R\nBcc: all@example.com"}, "name"),
        ({**good, "kpis": ["nope"]}, "kpis"),
        ({**good, "schedule": "every day 07:30 UTC", "recipients": ["nope"]}, "recipients"),
        ({**good, "recipients": [slack["createChannel"]["id"]]}, "recipients"),
        ({**good, "schedule": "every day 07:30 UTC",
          "recipients": [slack["createChannel"]["id"]]}, "recipients"),
    ]  # fmt: skip
    for given, field in cases:
        refused = await error(acme, CREATE, {"r": given})
        assert refused["extensions"]["code"] == "BAD_USER_INPUT", (given, refused)
        assert refused["extensions"]["field"] == field, (given, refused)
        assert "Traceback" not in refused["message"]
    created = (await data(acme, CREATE, {"r": good}))["createReport"]
    ranges = [
        ({"from": "2026-01-01T00:00:00Z"}, "to"),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"from": "2026-01-01T00:00:07Z", "to": "2026-01-02T00:00:00Z"}, "from"),
    ]
    for given, field in ranges:
        refused = await error(acme, GENERATE, {"id": created["id"], **given})
        assert (refused["extensions"]["code"], refused["extensions"]["field"]) == (
            "BAD_USER_INPUT", field,
        ), refused  # fmt: skip
    stale = await error(
        acme,
        "mutation($id: ID!, $r: ReportInput!) { updateReport(id: $id, version: 7, input: $r)"
        " { id } }",
        {"id": created["id"], "r": good},
    )
    assert stale["extensions"]["code"] == "CONFLICT"
    async with client_for(app, await make_key("acme", "read")) as reader:
        forbidden = await error(reader, CREATE, {"r": good})
        assert forbidden["extensions"]["code"] == "FORBIDDEN"


async def test_reports_are_listed_updated_deleted_and_bounded(acme: GraphQLClient) -> None:
    first = {"name": "B first", "panels": [{"metric": "plays"}], "period": "DAY"}
    created = (await data(acme, CREATE, {"r": first}))["createReport"]
    assert (created["version"], created["schedule"], created["nextRunAt"]) == (1, None, None)
    changed = {**first, "name": "A renamed", "schedule": "every day 07:30 UTC"}
    updated = await data(
        acme,
        "mutation($id: ID!, $r: ReportInput!) { updateReport(id: $id, version: 1, input: $r)"
        f" {{ {REPORT_FIELDS} }} }}",
        {"id": created["id"], "r": changed},
    )
    report = updated["updateReport"]
    assert (report["version"], report["name"], report["timeZone"]) == (2, "A renamed", "UTC")
    assert report["nextRunAt"] is not None
    second = (await data(acme, CREATE, {"r": first}))["createReport"]
    listed = (await data(acme, "{ reports { id name } }"))["reports"]
    assert [r["name"] for r in listed] == ["A renamed", "B first"]
    deleted = await data(acme, "mutation($id: ID!) { deleteReport(id: $id) }", {"id": second["id"]})
    assert deleted["deleteReport"] is True
    held = len((await data(acme, "{ reports { id } }"))["reports"])
    for index in range(held, 50):
        await data(acme, CREATE, {"r": {**first, "name": f"R{index}"}})
    refused = await error(acme, CREATE, {"r": first})
    assert refused["extensions"]["code"] == "QUOTA_EXCEEDED"
    assert len((await data(acme, "{ reports { id } }"))["reports"]) == 50
