"""`serve --demo` gives every business view something to show: users who come back less
each week after signing up, a funnel losing users at every step, more plays at the
weekend, and a "business" dashboard whose every widget answers.

The demo is seeded in process, exactly as `serve --demo` seeds it, and read back
through GraphQL only.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from analytics_gateway.app import create_app
from analytics_gateway.dashboards.catalogue import BUSINESS_NAME, DEMO_NAME
from analytics_gateway.demo import ARTISTS
from tests.conftest import GraphQLClient, asgi_transport, make_settings, new_key, started

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
RETENTION = """{
  retentionCohorts(cohort: WEEK, periods: 8, last: "56d") { start size retained rates }
}"""
FUNNEL = """{
  funnel(steps: ["sign_up", "search", "song_play", "subscribe"], within: "1d", last: "56d") {
    steps { eventType users }
  }
}"""
PLAYS = '{ eventCounts(type: "song_play", last: "42d", step: "1d") { data } }'
BUSINESS = """{
  dashboard(id: "business") {
    name
    widgets {
      id type title
      data {
        __typename
        ... on KpiData { value }
        ... on ChartData { series { labels data } }
        ... on TableData { rows { labels } }
        ... on HeatmapData { rowLabels }
      }
    }
  }
}"""


@contextlib.asynccontextmanager
async def seeded_demo(data_dir: Path) -> AsyncIterator[GraphQLClient]:
    settings = make_settings(data_dir, demo=True, request_timeout_seconds=120.0)
    key = await new_key(settings, "demo", "read")
    async with started(create_app(settings, registry=CollectorRegistry())) as app:
        transport = asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield GraphQLClient(http, key)


async def test_the_demo_has_something_for_every_business_view(tmp_path: Path) -> None:
    """One seeding (it takes seconds) for every check."""
    async with seeded_demo(tmp_path / "data") as demo:
        await retention_decays_week_over_week(demo)
        await the_funnel_loses_users_at_every_step(demo)
        await plays_have_a_weekly_season(demo)
        await the_business_dashboard_answers_every_widget(demo)


async def data(gql: GraphQLClient, query: str) -> Any:
    body = await gql.execute(query)
    assert "errors" not in body, body["errors"]
    return body["data"]


def ms_of(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


async def retention_decays_week_over_week(demo: GraphQLClient) -> None:
    now = int(time.time() * 1000)
    cohorts = (await data(demo, RETENTION))["retentionCohorts"]
    # each week's rate over the cohorts that have lived through that whole week
    kept: dict[int, int] = defaultdict(int)
    sizes: dict[int, int] = defaultdict(int)
    for cohort in cohorts:
        start = ms_of(cohort["start"])
        for k, users in enumerate(cohort["retained"]):
            if start + (k + 1) * WEEK_MS <= now:
                kept[k] += users
                sizes[k] += cohort["size"]
    rates = [kept[k] / sizes[k] for k in sorted(sizes)]
    assert len(rates) >= 4, rates
    assert all(later < earlier for earlier, later in itertools.pairwise(rates)), rates
    assert rates[1] < 0.8
    big = [c for c in cohorts if c["size"] >= 100]
    assert len(big) >= 5, cohorts
    assert sum(c["size"] for c in cohorts) >= 2000  # a few thousand users
    for cohort in big:  # each cohort on its own too, two weeks apart
        start = ms_of(cohort["start"])
        for k in range(1, 6):
            if start + (k + 3) * WEEK_MS <= now:
                assert cohort["retained"][k + 2] < cohort["retained"][k], cohort


async def the_funnel_loses_users_at_every_step(demo: GraphQLClient) -> None:
    steps = (await data(demo, FUNNEL))["funnel"]["steps"]
    users = [s["users"] for s in steps]
    assert [s["eventType"] for s in steps] == ["sign_up", "search", "song_play", "subscribe"]
    assert users[0] >= 2000
    assert all(later < earlier for earlier, later in itertools.pairwise(users)), users
    assert users[-1] > 0


async def plays_have_a_weekly_season(demo: GraphQLClient) -> None:
    """Each whole ISO week: more plays a day at the weekend than on weekdays."""
    [series] = (await data(demo, PLAYS))["eventCounts"]
    per_day = dict(zip(series["data"]["t"], series["data"]["v"], strict=True))
    weeks: dict[int, dict[int, float]] = defaultdict(dict)
    for ts, plays in per_day.items():
        day = datetime.fromtimestamp(ts / 1000, UTC)
        weeks[int(ts) // DAY_MS - day.weekday()][day.weekday()] = plays
    # whole weeks only, and not the last two days (a day of steady plays lies on top)
    whole = {
        monday: days
        for monday, days in weeks.items()
        if len(days) == 7 and (monday + 7) * DAY_MS <= time.time() * 1000 - 2 * DAY_MS
    }
    assert len(whole) >= 3, weeks
    for days in whole.values():
        weekday = sum(days[d] for d in range(5)) / 5
        weekend = (days[5] + days[6]) / 2
        assert weekend > 1.25 * weekday, days


async def the_business_dashboard_answers_every_widget(demo: GraphQLClient) -> None:
    listed = (await data(demo, "{ dashboards { id name } }"))["dashboards"]
    assert sorted((d["id"], d["name"]) for d in listed) == [
        ("business", BUSINESS_NAME),
        ("overview", DEMO_NAME),
    ]
    board = (await data(demo, BUSINESS))["dashboard"]
    assert board["name"] == BUSINESS_NAME
    widgets = board["widgets"]
    assert {w["type"] for w in widgets} == {"KPI", "CHART", "TABLE", "HEATMAP"}
    for widget in widgets:
        found = widget["data"]
        assert found is not None, widget
        kind = found["__typename"]
        if kind == "KpiData":
            assert found["value"] is not None, widget
            assert found["value"] > 0, widget
        elif kind == "ChartData":
            assert found["series"], widget
            assert any(v > 0 for s in found["series"] for v in s["data"]["v"]), widget
        elif kind == "TableData":
            assert len(found["rows"]) >= 10, widget
        else:
            assert kind == "HeatmapData", widget
            assert set(found["rowLabels"]) == set(ARTISTS), widget
