"""Report schedules in words, their next run, and the periods they cover, in local time.

    every day 07:30 UTC
    every Monday 08:00 Europe/Paris
    every month on day 1 09:00 America/New_York

Times are wall-clock times of the zone (IANA names, through `zoneinfo`), so a
08:00 run stays at 08:00 across daylight saving changes. A time the clocks skip
(02:30 on a spring-forward night) runs when the skipped hour ends would have
put it (the offset before the change, as `zoneinfo` reads fold=0); a time that
happens twice runs once, at its first occurrence. A monthly day past the end of
a month (day 31 in April) runs on the month's last day.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics_gateway.errors import BadUserInput

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_SCHEDULE_LENGTH = 100
_SEARCH_DAYS = 400  # a monthly schedule runs within 31 days; a weekly one within 7

_PATTERN = re.compile(
    r"^every\s+(?:(?P<day>day)|(?P<weekday>[a-z]+)|month\s+on\s+day\s+(?P<dom>[0-9]{1,2}))"
    r"\s+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})\s+(?P<zone>[A-Za-z0-9_+\-/]+)$",
    re.IGNORECASE,
)
EXAMPLES = (
    '"every day 07:30 UTC", "every Monday 08:00 Europe/Paris" or '
    '"every month on day 1 09:00 America/New_York"'
)


class Period(enum.StrEnum):
    """What one report covers: a calendar day, ISO week (Monday first) or month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: how often, on which weekday or day of month, at what local time."""

    text: str
    frequency: Frequency
    hour: int
    minute: int
    zone: str
    weekday: int = 0  # 0 = Monday (weekly)
    day_of_month: int = 1  # 1..31 (monthly)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def _runs_on(self, day: date) -> bool:
        if self.frequency is Frequency.DAILY:
            return True
        if self.frequency is Frequency.WEEKLY:
            return day.weekday() == self.weekday
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(self.day_of_month, last)

    def _at(self, day: date) -> int:
        local = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.tz)
        return int(local.timestamp() * 1000)

    def next_run(self, after_ms: int) -> int:
        """The first run strictly after `after_ms` (epoch ms)."""
        day = datetime.fromtimestamp(after_ms / 1000, self.tz).date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            if self._runs_on(day):
                at = self._at(day)
                if at > after_ms:
                    return at
            day += timedelta(days=1)
        raise AssertionError(f"schedule {self.text!r} has no run within {_SEARCH_DAYS} days")

    def latest_run(self, now_ms: int, since_ms: int) -> int | None:
        """The last run in (since_ms, now_ms], or None. Runs missed more than 32 days
        ago (a gateway stopped for long) are not looked at: only the latest one counts."""
        run = self.next_run(max(since_ms, now_ms - 32 * 86_400_000))
        found = None
        while run <= now_ms:
            found, run = run, self.next_run(run)
        return found


def parse_schedule(text: str, field: str = "schedule") -> Schedule:
    """The schedule `text` describes, or `BadUserInput` naming `field` with examples."""
    cleaned = " ".join(text.split())
    match = _PATTERN.match(cleaned) if len(cleaned) <= MAX_SCHEDULE_LENGTH else None
    if match is None:
        raise BadUserInput(
            f"{field}: {text[:MAX_SCHEDULE_LENGTH]!r} is not a schedule; use {EXAMPLES}",
            field=field,
        )
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise BadUserInput(f"{field}: {hour:02d}:{minute:02d} is not a time of day", field=field)
    zone = match["zone"]
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadUserInput(
            f"{field}: {zone!r} is not a time zone; use an IANA name such as UTC or Europe/Paris",
            field=field,
        ) from None
    if match["day"]:
        return Schedule(cleaned, Frequency.DAILY, hour, minute, zone)
    if match["dom"]:
        day = int(match["dom"])
        if not 1 <= day <= 31:
            raise BadUserInput(f"{field}: day {day} of the month must be 1 to 31", field=field)
        return Schedule(cleaned, Frequency.MONTHLY, hour, minute, zone, day_of_month=day)
    name = match["weekday"].lower()
    if name not in WEEKDAYS:
        raise BadUserInput(
            f"{field}: {match['weekday']!r} is not day, month or a weekday; use {EXAMPLES}",
            field=field,
        )
    return Schedule(cleaned, Frequency.WEEKLY, hour, minute, zone, weekday=WEEKDAYS.index(name))


def _midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def period_start(period: Period, day: date) -> date:
    """The first day of the period holding `day`."""
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def shift(period: Period, first: date, periods: int) -> date:
    """The first day of the period `periods` after (or before, when negative) `first`."""
    if period is Period.DAY:
        return first + timedelta(days=periods)
    if period is Period.WEEK:
        return first + timedelta(weeks=periods)
    months = first.year * 12 + first.month - 1 + periods
    return date(months // 12, months % 12 + 1, 1)


def last_complete(period: Period, now_ms: int, zone: str) -> tuple[int, int]:
    """[start, end) in epoch ms of the last whole period before `now_ms`, in `zone`."""
    tz = ZoneInfo(zone)
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    current = period_start(period, today)
    previous = shift(period, current, -1)
    return _midnight(previous, tz), _midnight(current, tz)


def is_period(period: Period, start_ms: int, end_ms: int, zone: str) -> bool:
    """Whether [start, end) is exactly one calendar period (day, week or month) in `zone`."""
    tz = ZoneInfo(zone)
    first = datetime.fromtimestamp(start_ms / 1000, tz).date()
    if _midnight(first, tz) != start_ms or period_start(period, first) != first:
        return False
    return _midnight(shift(period, first, 1), tz) == end_ms


def previous_of(period: Period, start_ms: int, end_ms: int, zone: str) -> tuple[int, int]:
    """The period before [start, end): the previous calendar period when the range is one
    (a 31-day month is compared with a 30-day one), else the same length right before."""
    if is_period(period, start_ms, end_ms, zone):
        tz = ZoneInfo(zone)
        first = datetime.fromtimestamp(start_ms / 1000, tz).date()
        return _midnight(shift(period, first, -1), tz), start_ms
    return start_ms - (end_ms - start_ms), start_ms


def local_text(ms: int, zone: str) -> str:
    """A moment as the report's readers see it: `2026-12-07 08:00 CET`."""
    moment = datetime.fromtimestamp(ms / 1000, ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or zone)


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
