"""Demo data: a week of realistic history for tenant `demo`, then live points every second
at the history's rates: gauges each second, per-minute counts once a minute, and as
many plays an hour.

Daily and weekly rhythms with noise: song plays per country, active users,
revenue, conversion rate, request latency, error rate, CPU per host.

Behind the business views (engagement, retention, funnels, top items,
recommendations) is a simulated population (`Listeners`): six weeks of users
signing up, searching, playing, skipping and subscribing, each user with a
country and a taste. Every user id of the tenant belongs to it: the steady
`PLAYS_PER_HOUR` plays are extra plays by users already listening that day, so
they change no count of distinct users and no funnel.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from analytics_gateway.alerting.model import Severity
from analytics_gateway.alerting.service import AlertService
from analytics_gateway.alerting.specs import RuleSpec
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.dashboards.catalogue import business_spec, demo_spec
from analytics_gateway.dashboards.service import DashboardService
from analytics_gateway.domain import MetricPoint, PointBatch
from analytics_gateway.ingest import IngestService, RawEvent

log = logging.getLogger(__name__)

TENANT = "demo"
STEP_MS = 60_000
HOUR_MS = 3_600_000
PLAYS_PER_HOUR = 200  # song_play events, in history and live alike
HISTORY_MS = 7 * 86_400_000
COUNTRIES = {"US": 1.0, "DE": 0.45, "GB": 0.4, "BR": 0.55, "JP": 0.35, "FR": 0.3}
HOSTS = ("web-1", "web-2", "db-1")
SONGS = [f"song-{i}" for i in range(1, 41)]
DEMO_DASHBOARD = "overview"
BUSINESS_DASHBOARD = "business"
EVENT_CHUNK = 20_000  # events per ingest call when seeding (the batch limit is 50,000)


def _daily(ts_ms: int, phase_hours: float = 0.0) -> float:
    """0..1 daily rhythm peaking in the evening (UTC + phase)."""
    hours = (ts_ms / 3_600_000 + phase_hours) % 24
    return 0.5 + 0.5 * math.sin((hours - 14) / 24 * 2 * math.pi)


def _weekly(ts_ms: int) -> float:
    weekday = (ts_ms // 86_400_000 + 3) % 7  # 1970-01-01 was a Thursday
    return 1.15 if weekday in (4, 5) else 1.0


def sample(ts_ms: int, rng: random.Random) -> Iterator[tuple[str, dict[str, str], float]]:
    """All demo metrics at one instant; counts (plays, revenue) are per `STEP_MS`."""
    load = _daily(ts_ms) * _weekly(ts_ms)
    for country, weight in COUNTRIES.items():
        plays = max(0.0, weight * (400 + 900 * load) * rng.gauss(1, 0.06))
        yield "song_plays", {"country": country}, round(plays)
    users = (12_000 + 9_000 * load) * rng.gauss(1, 0.02)
    yield "active_users", {}, round(users)
    yield "revenue", {}, round(max(0.0, users * 0.021 * rng.gauss(1, 0.08)), 2)
    conversion = 0.031 + 0.008 * load + rng.gauss(0, 0.002)
    yield "conversion_rate", {}, round(min(1.0, max(0.0, conversion)), 4)
    for endpoint, base in (("/play", 45.0), ("/search", 120.0)):
        latency = base * (1 + 0.6 * load) * rng.lognormvariate(0, 0.15)
        yield "request_latency_ms", {"endpoint": endpoint}, round(latency, 1)
    spike = 0.04 if rng.random() < 0.003 else 0.0
    yield "error_rate", {}, round(max(0.0, 0.008 + 0.006 * load + spike + rng.gauss(0, 0.002)), 4)
    for i, host in enumerate(HOSTS):
        cpu = 20 + 55 * _daily(ts_ms, phase_hours=i) + rng.gauss(0, 4)
        yield "cpu_usage", {"host": host}, round(min(100.0, max(0.0, cpu)), 1)


def history_points(end_ms: int, rng: random.Random) -> Iterator[MetricPoint]:
    start = (end_ms - HISTORY_MS) // STEP_MS * STEP_MS
    for ts in range(start, end_ms, STEP_MS):
        for name, labels, value in sample(ts, rng):
            yield MetricPoint(TENANT, name, labels, ts, float(value))


COUNTS = frozenset({"song_plays", "revenue"})  # per STEP_MS: summed, not averaged


def live_sample(
    ts_ms: int, previous_ms: int | None, rng: random.Random
) -> list[tuple[str, dict[str, str], float]]:
    """One live instant: the gauges every time, the per-minute counts only at the
    first instant of each minute, so that live data has the history's density for
    counts (a sum over a range stays a sum of minutes) and is live for the rest."""
    new_minute = previous_ms is None or ts_ms // STEP_MS != previous_ms // STEP_MS
    return [(n, labels, v) for n, labels, v in sample(ts_ms, rng) if new_minute or n not in COUNTS]


def live_plays(interval_seconds: float, rng: random.Random) -> int:
    """Plays in one live interval: `PLAYS_PER_HOUR` an hour on average."""
    expected = PLAYS_PER_HOUR * interval_seconds / 3600
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def play_events(
    ts_ms: int, count: int, rng: random.Random, spread_ms: int = 1000
) -> list[RawEvent]:
    """`count` plays in the `spread_ms` ending at `ts_ms`, spread evenly at random (the
    history's hour holds its plays all through the hour, as live ones come)."""
    countries = list(COUNTRIES)
    weights = list(COUNTRIES.values())
    return [
        RawEvent(
            "song_play",
            f"user-{rng.randint(1, 500)}",
            ts_ms - rng.randint(0, spread_ms - 1),
            {
                "song_id": rng.choice(SONGS),
                "duration": rng.randint(60, 300),
                "country": rng.choices(countries, weights)[0],
            },
        )
        for _ in range(count)
    ]


# -- the simulated population behind the business views ---------------------------

DAY_MS = 86_400_000
BEHAVIOUR_DAYS = 42  # sign-ups from this many days back; the history starts with them
LIFE_DAYS = 56  # nobody comes back later than this after signing up
SIGNUPS_PER_DAY = 60
# Monday first: fewer sign-ups at the weekend, more users back and more plays each
WEEKDAY_SIGNUPS = (1.1, 1.05, 1.0, 1.0, 0.95, 0.8, 0.85)
WEEKDAY_ACTIVE = (1.0, 0.95, 0.97, 1.0, 1.1, 1.3, 1.25)
WEEKDAY_PLAYS = (1.0, 0.95, 0.95, 1.0, 1.15, 1.6, 1.45)
MEAN_LIFETIME_DAYS = 14.0  # churn: a user's active life is exponential ...
LOYAL_SHARE = 0.1  # ... except for the loyal ones, who stay
SEARCH_SHARE = 0.72  # funnel: of sign-ups, who search on their first day
PLAY_SHARE = 0.8  # of those, who then play
SUBSCRIBE_SHARE = 0.25  # of those, who subscribe within hours
LATE_SUBSCRIBE_SHARE = 0.06  # of everybody, who subscribes on a later day
GENRES: dict[str, tuple[str, str]] = {
    "pop": ("Mira Vale", "Juno Sky"),
    "rock": ("Iron Harbor", "The Static Tides"),
    "hip_hop": ("MC Ledger", "Kilo Verse"),
    "latin": ("Sol Marina", "Los Rios"),
    "electronic": ("Pulse Theory", "Neon Drift"),
    "j_pop": ("Sakura Beat", "Tokyo Ripple"),
}
# each country's share of users preferring each genre
TASTES: dict[str, dict[str, float]] = {
    "US": {"hip_hop": 0.35, "pop": 0.3, "rock": 0.15, "electronic": 0.1, "latin": 0.1},
    "DE": {"electronic": 0.45, "rock": 0.2, "pop": 0.2, "hip_hop": 0.15},
    "GB": {"rock": 0.45, "pop": 0.25, "electronic": 0.15, "hip_hop": 0.15},
    "BR": {"latin": 0.6, "pop": 0.2, "electronic": 0.1, "hip_hop": 0.1},
    "JP": {"j_pop": 0.6, "pop": 0.2, "rock": 0.1, "electronic": 0.1},
    "FR": {"pop": 0.35, "electronic": 0.25, "hip_hop": 0.25, "latin": 0.15},
}
ARTISTS = [artist for pair in GENRES.values() for artist in pair]
GENRE_OF = {artist: genre for genre, pair in GENRES.items() for artist in pair}
ARTIST_OF = {song: ARTISTS[i % len(ARTISTS)] for i, song in enumerate(SONGS)}
SONG_LENGTH = {song: 150 + (i * 37) % 120 for i, song in enumerate(SONGS)}
# within a genre, earlier songs are hits: Zipf-like weights (cumulative, for `choices`)
SONGS_OF: dict[str, tuple[list[str], list[float]]] = {
    genre: (
        [s for s in SONGS if GENRE_OF[ARTIST_OF[s]] == genre],
        list(
            itertools.accumulate(
                1 / (rank + 1) for rank, s in enumerate(SONGS) if GENRE_OF[ARTIST_OF[s]] == genre
            )
        ),
    )
    for genre in GENRES
}
SUBSCRIPTION_PLANS = {"individual": 0.6, "family": 0.25, "student": 0.15}
SOURCES = {"organic": 0.5, "ads": 0.3, "referral": 0.2}


def _day_of(ts_ms: int) -> int:
    return ts_ms // DAY_MS


def _weekday(day: int) -> int:
    return (day + 3) % 7  # Monday 0; 1970-01-01 was a Thursday


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _time_of_day(rng: random.Random) -> int:
    """Ms into a day, more often in the evening (the metrics' daily rhythm)."""
    while True:
        ms = rng.randrange(DAY_MS)
        if rng.random() < 0.15 + _daily(ms):
            return ms


@dataclass(frozen=True)
class Listener:
    """One simulated user; what they do is drawn when they sign up."""

    user_id: str
    country: str
    genre: str
    signup_ms: int
    lifetime_days: float
    activity: float  # chance of being back on a given day of their active life
    searches_first: bool  # funnel: searches on the first day
    plays_first: bool  # ... then plays
    subscribe_day: int | None  # days after signing up; 0: right after the first plays
    source: str

    @property
    def signup_day(self) -> int:
        return _day_of(self.signup_ms)


def play(listener: Listener, ts_ms: int, rng: random.Random) -> RawEvent:
    """A play by `listener`: mostly their genre's songs, hits more often."""
    if rng.random() < 0.75:
        songs, cumulative = SONGS_OF[listener.genre]
        song = rng.choices(songs, cum_weights=cumulative)[0]
    else:
        song = rng.choice(SONGS)
    length = SONG_LENGTH[song]
    return RawEvent(
        "song_play",
        listener.user_id,
        ts_ms,
        {
            "song_id": song,
            "artist": ARTIST_OF[song],
            "genre": GENRE_OF[ARTIST_OF[song]],
            "duration": length if rng.random() < 0.7 else rng.randint(20, length),
            "song_length": length,
            "country": listener.country,
        },
    )


@lru_cache(maxsize=LIFE_DAYS + 8)
def signups(day: int) -> tuple[Listener, ...]:
    """The users signing up on UTC `day` (days since 1970): the same for every run."""
    rng = random.Random(f"demo-signups-{day}")
    count = round(SIGNUPS_PER_DAY * WEEKDAY_SIGNUPS[_weekday(day)] * rng.gauss(1, 0.08))
    out = []
    for i in range(max(0, count)):
        country = _pick(rng, COUNTRIES)
        searches = rng.random() < SEARCH_SHARE
        plays = searches and rng.random() < PLAY_SHARE
        subscribe_day: int | None = None
        if plays and rng.random() < SUBSCRIBE_SHARE:
            subscribe_day = 0
        elif rng.random() < LATE_SUBSCRIBE_SHARE:
            subscribe_day = rng.randint(1, 27)
        loyal = rng.random() < LOYAL_SHARE
        out.append(
            Listener(
                user_id=f"user-{day}{i:03d}",
                country=country,
                genre=_pick(rng, TASTES[country]),
                signup_ms=day * DAY_MS + _time_of_day(rng),
                lifetime_days=LIFE_DAYS if loyal else rng.expovariate(1 / MEAN_LIFETIME_DAYS),
                activity=min(0.9, 0.2 * rng.lognormvariate(0, 0.35)),
                searches_first=searches,
                plays_first=plays or (not searches and rng.random() < 0.5),
                subscribe_day=subscribe_day,
                source=_pick(rng, SOURCES),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class DayPlan:
    """One UTC day of the population: its events in time order, and who came back."""

    day: int
    events: list[RawEvent]
    returning: list[Listener]  # back on this day after an earlier one, and playing


class Listeners:
    """The simulated population: users signing up from `first_day` on, and each day's
    events, drawn from the day alone, so history and live follow one another."""

    def __init__(self, first_day: int) -> None:
        self.first_day = first_day
        self._plans: dict[int, DayPlan] = {}

    def day(self, day: int) -> DayPlan:
        plan = self._plans.get(day)
        if plan is None:
            plan = self._plan(day)
            if len(self._plans) >= 3:  # live needs today's, and yesterday's at midnight
                del self._plans[min(self._plans)]
            self._plans[day] = plan
        return plan

    def _plan(self, day: int) -> DayPlan:
        rng = random.Random(f"demo-day-{day}")
        events: list[RawEvent] = []
        returning: list[Listener] = []
        weekday = _weekday(day)
        for signed_up in range(max(self.first_day, day - LIFE_DAYS), day + 1):
            for listener in signups(signed_up):
                age = day - signed_up
                if age == 0:
                    events += _first_day(listener, rng)
                    continue
                back = listener.activity * WEEKDAY_ACTIVE[weekday]
                if age > listener.lifetime_days or rng.random() >= back:
                    continue
                returning.append(listener)
                events += _session(listener, day * DAY_MS + _time_of_day(rng), weekday, rng)
                if listener.subscribe_day == age:
                    at = events[-1].timestamp_ms + rng.randint(5_000, 600_000)
                    events.append(_subscribe(listener, at, rng))
        events.sort(key=lambda e: int(e.timestamp_ms))
        return DayPlan(day, events, returning)

    def between(self, start_ms: int, end_ms: int) -> Iterator[RawEvent]:
        """Every event in [start_ms, end_ms), day by day (a session late in a day may end
        in the next, so the day before is read too)."""
        for day in range(_day_of(start_ms) - 1, _day_of(end_ms - 1) + 1):
            for event in self.day(day).events:
                if start_ms <= event.timestamp_ms < end_ms:
                    yield event


def _first_day(listener: Listener, rng: random.Random) -> list[RawEvent]:
    """Sign-up, then (funnel) a search, plays, a subscription: fewer users at each step."""
    at = listener.signup_ms
    meta = {"country": listener.country}
    events = [RawEvent("sign_up", listener.user_id, at, {**meta, "source": listener.source})]
    if listener.searches_first:
        at += rng.randint(20_000, 900_000)
        events.append(RawEvent("search", listener.user_id, at, meta))
    if listener.plays_first:
        weekday = _weekday(listener.signup_day)
        events += _session(listener, at + rng.randint(10_000, 300_000), weekday, rng, search=False)
        if listener.subscribe_day == 0:
            at = events[-1].timestamp_ms + rng.randint(5_000, 3_600_000)
            events.append(_subscribe(listener, at, rng))
    return events


def _session(
    listener: Listener, start_ms: int, weekday: int, rng: random.Random, search: bool = True
) -> list[RawEvent]:
    """A listening session: maybe a search, plays back to back, some skipped."""
    at = start_ms
    meta = {"country": listener.country}
    events: list[RawEvent] = []
    if search and rng.random() < 0.3:
        events.append(RawEvent("search", listener.user_id, at, meta))
        at += rng.randint(5_000, 120_000)
    plays = 1 + int(rng.expovariate(1 / (1.2 * WEEKDAY_PLAYS[weekday])))
    for _ in range(min(plays, 30)):
        event = play(listener, at, rng)
        events.append(event)
        song = event.metadata["song_id"]
        off_taste = GENRE_OF[ARTIST_OF[song]] != listener.genre
        if rng.random() < (0.3 if off_taste else 0.05):
            after = rng.randint(5, 40)
            skip = {**meta, "song_id": song, "artist": ARTIST_OF[song], "after_seconds": after}
            events.append(RawEvent("skip", listener.user_id, at + after * 1000, skip))
            at += after * 1000 + 1000
        else:
            at += int(event.metadata["duration"]) * 1000 + 1000
    return events


def _subscribe(listener: Listener, ts_ms: int, rng: random.Random) -> RawEvent:
    plan = _pick(rng, SUBSCRIPTION_PLANS)
    return RawEvent(
        "subscribe", listener.user_id, ts_ms, {"country": listener.country, "plan": plan}
    )


DEMO_ALERTS = (
    RuleSpec(
        name="CPU busy",
        condition="avg(cpu_usage[1m]) > 65",
        severity=Severity.WARNING,
        for_="1m",
        interval="15s",
        group_by=("host",),
        annotations={"summary": "{{ $labels.host }} at {{ $value }}% CPU"},
    ),
    RuleSpec(
        name="High error rate",
        condition="avg(error_rate[5m]) > 0.05",
        severity=Severity.CRITICAL,
        interval="15s",
        annotations={"summary": "error rate is {{ $value }}"},
    ),
)


class Demo:
    """Seeds tenant `demo` once, then publishes live points through ingest."""

    def __init__(
        self,
        ingest: IngestService,
        alerts: AlertService,
        dashboards: DashboardService,
        metric_store: MetricStore,
        clock: Callable[[], int],
        rng: random.Random,
    ) -> None:
        self._ingest = ingest
        self._alerts = alerts
        self._dashboards = dashboards
        self._store = metric_store
        self._clock = clock
        self._rng = rng
        self._listeners = Listeners(_day_of(clock()) - BEHAVIOUR_DAYS)
        self._published = clock()  # the population's events before this are stored

    async def seed(self) -> None:
        await self._dashboards.repository.ensure(TENANT, DEMO_DASHBOARD, demo_spec())
        await self._dashboards.repository.ensure(TENANT, BUSINESS_DASHBOARD, business_spec())
        await self._seed_alerts()
        if await self._store.metric_names(TENANT, None):
            log.info("demo tenant already has data; not seeding again")
            self._published = self._clock()
            return
        end = self._clock()
        batch: list[MetricPoint] = []
        for point in history_points(end, self._rng):
            batch.append(point)
            if len(batch) >= 50_000:
                await self._store.write_batch(PointBatch.of(TENANT, batch))
                batch = []
        await self._store.write_batch(PointBatch.of(TENANT, batch))
        first = self._listeners.first_day * DAY_MS
        behaviour = list(self._listeners.between(first, end))
        for at in range(0, len(behaviour), EVENT_CHUNK):
            await self._ingest.ingest_events(TENANT, behaviour[at : at + EVENT_CHUNK])
        self._published = end
        for hour in range(24, 0, -1):
            ts = end - (hour - 1) * HOUR_MS - 1
            await self._ingest.ingest_events(TENANT, self._plays(ts, PLAYS_PER_HOUR, HOUR_MS))
        log.info(
            "demo tenant seeded with a week of history and %d events of %d days of users",
            len(behaviour),
            BEHAVIOUR_DAYS,
        )

    def _plays(self, ts_ms: int, count: int, spread_ms: int) -> list[RawEvent]:
        """`play_events`, each play by a user of the population back on that day (so no
        count of distinct users changes), to their taste."""
        rng = self._rng
        out = []
        for event in play_events(ts_ms, count, rng, spread_ms):
            listeners = self._listeners.day(_day_of(event.timestamp_ms)).returning
            out.append(play(rng.choice(listeners), event.timestamp_ms, rng) if listeners else event)
        return out

    async def _seed_alerts(self) -> None:
        """A couple of rules, so the alerts panel and `alerts` have something to show."""
        existing = {rule.name for rule in await self._alerts.rules(TENANT)}
        for spec in DEMO_ALERTS:
            if spec.name not in existing:
                await self._alerts.create_rule(TENANT, spec, "demo")

    async def publish_live(self, interval_seconds: float = 1.0) -> None:
        """Fresh points for every demo series (and a few plays) each interval."""
        rng = self._rng
        previous: int | None = None
        while True:
            ts = self._clock()
            points = [
                MetricPoint(TENANT, n, labels, ts, float(v))
                for n, labels, v in live_sample(ts, previous, rng)
            ]
            previous = ts
            # as many plays an hour as the history has, and the population's next events
            plays = live_plays(interval_seconds, rng)
            try:
                await self._ingest.store_batch(PointBatch.of(TENANT, points))
                events = list(self._listeners.between(self._published, ts))
                self._published = max(self._published, ts)
                events += self._plays(ts, plays, 1000)
                if events:
                    await self._ingest.ingest_events(TENANT, events)
            except Exception:
                log.exception("demo publisher failed; retrying")
            await asyncio.sleep(interval_seconds)
