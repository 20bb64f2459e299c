"""Report schedules: parsing, next runs in local wall-clock time across DST, periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics_gateway.errors import BadUserInput
from analytics_gateway.reports.schedule import (
    Frequency,
    Period,
    last_complete,
    parse_schedule,
    previous_of,
)


def ms(text: str) -> int:
    """An ISO-8601 UTC instant ("2026-03-23T07:00") in epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_the_three_forms_parse() -> None:
    weekly = parse_schedule("every  monday 08:00 Europe/Paris")
    assert (weekly.frequency, weekly.weekday, weekly.hour, weekly.minute, weekly.zone) == (
        Frequency.WEEKLY, 0, 8, 0, "Europe/Paris",
    )  # fmt: skip
    daily = parse_schedule("every day 07:30 UTC")
    assert (daily.frequency, daily.hour, daily.minute) == (Frequency.DAILY, 7, 30)
    monthly = parse_schedule("Every month on day 1 09:00 America/New_York")
    assert (monthly.frequency, monthly.day_of_month) == (Frequency.MONTHLY, 1)


def test_weekly_run_keeps_local_time_across_spring_forward() -> None:
    schedule = parse_schedule("every Monday 08:00 Europe/Paris")
    first = schedule.next_run(ms("2026-03-20T00:00"))
    assert first == ms("2026-03-23T07:00")  # CET, UTC+1
    assert schedule.next_run(first) == ms("2026-03-30T06:00")  # CEST, UTC+2


def test_new_york_daily_run_across_its_dst_change() -> None:
    schedule = parse_schedule("every day 09:00 America/New_York")
    first = schedule.next_run(ms("2026-03-07T00:00"))
    assert first == ms("2026-03-07T14:00")  # EST
    assert schedule.next_run(first) == ms("2026-03-08T13:00")  # EDT from that morning


def test_a_skipped_time_runs_once_after_the_gap() -> None:
    schedule = parse_schedule("every day 02:30 Europe/Paris")
    before = schedule.next_run(ms("2026-03-27T12:00"))
    assert before == ms("2026-03-28T01:30")
    in_gap = schedule.next_run(before)  # 02:30 does not exist on 29 March
    assert in_gap == ms("2026-03-29T01:30")  # 03:30 CEST
    assert schedule.next_run(in_gap) == ms("2026-03-30T00:30")


def test_a_repeated_time_runs_once() -> None:
    schedule = parse_schedule("every day 02:30 Europe/Paris")
    first = schedule.next_run(ms("2026-10-24T12:00"))
    assert first == ms("2026-10-25T00:30")  # the first 02:30 (CEST)
    assert schedule.next_run(first) == ms("2026-10-26T01:30")  # not the second 02:30 (CET)


def test_day_31_runs_on_the_last_day_of_shorter_months() -> None:
    schedule = parse_schedule("every month on day 31 09:00 America/New_York")
    assert schedule.next_run(ms("2026-04-01T00:00")) == ms("2026-04-30T13:00")
    assert schedule.next_run(ms("2026-05-01T00:00")) == ms("2026-05-31T13:00")
    assert schedule.next_run(ms("2027-02-01T00:00")) == ms("2027-02-28T14:00")


def test_latest_run_only_replays_the_last_missed_run() -> None:
    schedule = parse_schedule("every day 07:30 UTC")
    created = ms("2026-05-01T12:00")
    assert schedule.latest_run(ms("2026-05-02T07:29"), created) is None
    assert schedule.latest_run(ms("2026-05-02T07:30"), created) == ms("2026-05-02T07:30")
    assert schedule.latest_run(ms("2026-05-05T08:00"), created) == ms("2026-05-05T07:30")
    assert schedule.latest_run(ms("2026-05-05T08:00"), ms("2026-05-05T07:30")) is None


def test_last_week_in_paris_spans_the_dst_change() -> None:
    start, end = last_complete(Period.WEEK, ms("2026-03-30T06:00"), "Europe/Paris")
    assert (start, end) == (ms("2026-03-22T23:00"), ms("2026-03-29T22:00"))
    assert (end - start) // 3_600_000 == 167  # one hour short
    assert previous_of(Period.WEEK, start, end, "Europe/Paris") == (
        ms("2026-03-15T23:00"), start,
    )  # fmt: skip


def test_last_month_and_day() -> None:
    month = last_complete(Period.MONTH, ms("2026-03-01T14:00"), "America/New_York")
    assert month == (ms("2026-02-01T05:00"), ms("2026-03-01T05:00"))
    assert previous_of(Period.MONTH, *month, "America/New_York") == (
        ms("2026-01-01T05:00"), month[0],
    )  # fmt: skip
    assert last_complete(Period.DAY, ms("2026-05-02T07:30"), "UTC") == (
        ms("2026-05-01T00:00"), ms("2026-05-02T00:00"),
    )  # fmt: skip
    # a range that is no calendar period is compared with the same length before it
    assert previous_of(Period.WEEK, ms("2026-05-01T03:00"), ms("2026-05-02T03:00"), "UTC") == (
        ms("2026-04-30T03:00"), ms("2026-05-01T03:00"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "",
        "every fortnight 08:00 UTC",
        "every Monday 25:00 UTC",
        "every Monday 08:61 UTC",
        "every day 08:00 Mars/Olympus",
        "every month on day 32 08:00 UTC",
        "every month on day 0 08:00 UTC",
        "daily at 8",
        "every day 08:00 UTC " + "x" * 200,
    ],
)
def test_anything_else_is_bad_user_input(text: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        parse_schedule(text)
    assert raised.value.extensions["field"] == "schedule"
