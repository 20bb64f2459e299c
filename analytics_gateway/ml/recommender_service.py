"""Recommendations of one tenant: train from its play events, serve from the registry.

Training reads the tenant's events of one type (`song_play` by default) in
pages, newest first, at most `MAX_EVENTS` of them; each play counts its
completion (seconds played / song length, when the event says both, else 1)
and a user's plays of one item sum, damped by log1p. The fit runs in the ML
worker pool (the tenant's `ml_jobs` slots, its deadline), on at most
`maxItems` items and the `maxUsers` most active users, so one tenant's
catalogue cannot hold a worker for long. The fitted model is signed and
stored by the registry like every other model; replicas load it from there.

Serving never refits: the tenant's newest RECOMMENDER model answers, users
it does not know (or with fewer than `minInteractions` items) get the most
popular items. Models older than `RETRAIN_SECONDS` are retrained in the
background with the parameters they were trained with.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics_gateway.backends.base import EventStore
from analytics_gateway.domain import EventQuery
from analytics_gateway.errors import BadUserInput, GatewayError, NotFound
from analytics_gateway.ml.params import Param, resolve_params
from analytics_gateway.ml.recommender import (
    DEFAULT_LAMBDA,
    DEFAULT_MAX_ITEMS,
    DEFAULT_NEIGHBOURS,
    EASE,
    METHODS,
    Interactions,
    Recommender,
)
from analytics_gateway.ml.registry import RECOMMENDER, ModelRecord, ModelRegistry, _not_fitted

log = logging.getLogger(__name__)

MAX_EVENTS = 500_000
PAGE = 5_000
RECENT_PLAYS = 1_000
CACHED_MODELS = 8
RETRAIN_SECONDS = 6 * 3600.0

PARAMETERS: Mapping[str, Param] = {
    "itemField": Param(str, "song_id"),
    "playedField": Param(str, "duration"),
    "lengthField": Param(str, "song_length"),
    "lambda": Param(float, DEFAULT_LAMBDA, low=0.0, high=1e6),
    "neighbours": Param(int, DEFAULT_NEIGHBOURS, low=1, high=1_000),
    "maxItems": Param(int, DEFAULT_MAX_ITEMS, low=2, high=DEFAULT_MAX_ITEMS),
    "maxUsers": Param(int, 50_000, low=1, high=200_000),
    "minInteractions": Param(int, 2, low=1, high=1_000),
}


@dataclass(frozen=True)
class Plays:
    users: list[str]
    items: list[str]
    weights: list[float]
    first_ms: int
    last_ms: int


@dataclass(frozen=True)
class Recommendations:
    items: list[tuple[str, float]]
    personalised: bool
    model_id: str


def check(method: str | None, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Checked parameters of a RECOMMENDER training request."""
    if method is not None and method not in METHODS:
        raise BadUserInput(f"method: {method!r} is not one of {', '.join(METHODS)}", field="method")
    return resolve_params(method or EASE, PARAMETERS, parameters)


def completion(metadata: Mapping[str, Any], played: str, length: str) -> float:
    """Share of the song played, in (0, 1]; 1 when the event does not say."""
    try:
        share = float(metadata[played]) / float(metadata[length])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0
    return min(max(share, 0.0), 1.0) if math.isfinite(share) else 1.0


def train_recommender(plays: Plays, method: str, params: dict[str, Any]) -> tuple[bytes, int]:
    """Fit and serialise; runs in an ML worker. Returns the bytes and the users kept."""
    data = Interactions.build(plays.users, plays.items, plays.weights)
    counts = np.diff(data.matrix.indptr)
    if len(data.users) > params["maxUsers"]:  # the most active users, ties by id
        keep = np.sort(np.lexsort((np.arange(len(counts)), -counts))[: params["maxUsers"]])
        data = Interactions(data.users[keep], data.items, data.matrix[keep].tocsr())
    data.matrix.data = np.log1p(data.matrix.data).astype(np.float32)
    model = Recommender.fit(
        data,
        method,
        lam=params["lambda"],
        neighbours=params["neighbours"],
        max_items=params["maxItems"],
    )
    return model.to_bytes(), len(data.users)


class RecommenderService:
    def __init__(
        self,
        registry: ModelRegistry,
        events: EventStore | None,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        """`run(tenant, function, *args)` runs a job in the ML worker pool."""
        self._registry = registry
        self._events = events
        self._run = run
        self._models: OrderedDict[tuple[str, str, int], Recommender] = OrderedDict()

    def _store(self) -> EventStore:
        if self._events is None:
            raise NotFound("recommendations need an event store", reason="no_event_store")
        return self._events

    async def plays(
        self, tenant: str, event_type: str, span: tuple[int, int], params: dict[str, Any]
    ) -> Plays:
        """The tenant's plays in `span`, newest first, at most `MAX_EVENTS`."""
        users: list[str] = []
        items: list[str] = []
        weights: list[float] = []
        first_ms, last_ms = span[1], span[0]
        after: tuple[int, str] | None = None
        read = 0
        while read < MAX_EVENTS:
            query = EventQuery(tenant, event_type, None, span[0], span[1], PAGE, after)
            page = await self._store().query_events(query)
            read += len(page)
            for event in page:
                item = event.metadata.get(params["itemField"])
                if event.user_id is None or item is None:
                    continue
                users.append(event.user_id)
                items.append(str(item))
                weights.append(
                    completion(event.metadata, params["playedField"], params["lengthField"])
                )
                first_ms = min(first_ms, event.timestamp_ms)
                last_ms = max(last_ms, event.timestamp_ms)
            if len(page) < PAGE:
                break
            after = (page[-1].timestamp_ms, page[-1].event_id)
        return Plays(users, items, weights, first_ms, last_ms)

    async def fit(
        self,
        tenant: str,
        event_type: str,
        span: tuple[int, int],
        method: str | None,
        parameters: Mapping[str, Any],
    ) -> tuple[dict[str, Any], bytes, Plays, dict[str, Any]]:
        """Parameters, fitted bytes, the plays and an evaluation summary."""
        params = check(method, parameters)
        plays = await self.plays(tenant, event_type, span, params)
        if len(set(plays.items)) < 2:
            raise BadUserInput(
                f"metric: fewer than 2 distinct items in the {event_type!r} events of that "
                f"range (by `{params['itemField']}`); nothing to learn",
                field="metric",
            )
        started = time.perf_counter()
        payload, users = await self._run(tenant, train_recommender, plays, method or EASE, params)
        evaluation = {
            "fitSeconds": time.perf_counter() - started,
            "users": users,
            "items": len(set(plays.items)),
        }
        return params, payload, plays, evaluation

    # -- serving ---------------------------------------------------------------------

    async def current(self, tenant: str) -> ModelRecord:
        for record in await self._registry.models(tenant):  # newest first
            if record.kind == RECOMMENDER:
                return record
        raise NotFound(
            "no RECOMMENDER model: train one with trainModel(kind: RECOMMENDER)",
            reason="no_model",
        )

    async def _model(self, tenant: str, record: ModelRecord) -> Recommender:
        key = (tenant, record.id, record.version)
        cached = self._models.get(key)
        if cached is not None:
            self._models.move_to_end(key)
            return cached
        payload = await self._registry.read(tenant, record)
        try:
            model = await asyncio.to_thread(Recommender.from_bytes, payload)
        except Exception as exc:  # a damaged file can fail in many ways
            raise _not_fitted(record, "file_corrupt", "its file is not a readable model") from exc
        self._models[key] = model
        while len(self._models) > CACHED_MODELS:
            self._models.popitem(last=False)
        return model

    async def recent_items(self, tenant: str, record: ModelRecord, user: str) -> list[str]:
        """Items the user played since the model's data ended (not yet in its history)."""
        if self._events is None:
            return []
        field = str(record.parameters.get("itemField", "song_id"))
        query = EventQuery(tenant, record.metric, user, record.trained_to_ms, None, RECENT_PLAYS)
        found = await self._events.query_events(query)
        return [str(e.metadata[field]) for e in found if e.metadata.get(field) is not None]

    async def recommend(
        self, tenant: str, user: str | None, count: int, exclude_played: bool
    ) -> Recommendations:
        record = await self.current(tenant)
        model = await self._model(tenant, record)
        recent = await self.recent_items(tenant, record, user) if user and exclude_played else []
        minimum = int(record.parameters.get("minInteractions", 2))
        items, personal = await asyncio.to_thread(
            model.recommend,
            user or "",
            count,
            exclude_played=exclude_played,
            min_interactions=minimum if user else 1 << 30,
            also_played=recent,
        )
        return Recommendations(items, personal, record.id)

    async def similar(self, tenant: str, item: str, count: int) -> list[tuple[str, float]]:
        record = await self.current(tenant)
        model = await self._model(tenant, record)
        found = await asyncio.to_thread(model.similar, item, count)
        return found or []

    async def forget_users(self, tenant: str, users: list[str]) -> int:
        """Take `users` (every stored form of one erased user) out of the tenant's
        recommender models at once; returns how many models held them."""
        changed = 0
        for record in await self._registry.models(tenant):
            if record.kind != RECOMMENDER:
                continue
            try:
                model = await self._model(tenant, record)
            except GatewayError:
                # a model that cannot be read cannot be cleaned either: it goes
                await self._registry.delete(tenant, record.id)
                changed += 1
                continue
            trimmed = await asyncio.to_thread(model.without_users, users)
            if trimmed is None:
                continue
            payload = await asyncio.to_thread(trimmed.to_bytes)
            await self._registry.save(tenant, record, payload, previous=record)
            changed += 1
        return changed

    # -- retraining ------------------------------------------------------------------

    async def stale(self, now_ms: int, max_age_seconds: float) -> list[tuple[str, ModelRecord]]:
        return [
            (tenant, record)
            for tenant in await self._registry.tenants()
            for record in await self._registry.models(tenant)
            if record.kind == RECOMMENDER
            and now_ms - record.trained_at_ms >= max_age_seconds * 1000
        ]

    async def retrain_forever(
        self,
        retrain: Callable[[str, ModelRecord], Awaitable[object]],
        clock: Callable[[], int],
        every_seconds: float = RETRAIN_SECONDS,
    ) -> None:
        """Retrain models older than `every_seconds`, one at a time; failures are logged."""
        while True:
            await asyncio.sleep(max(every_seconds / 10, 1.0))
            try:
                due = await self.stale(clock(), every_seconds)
            except GatewayError as exc:
                log.warning("recommender retraining: cannot list models: %s", exc)
                continue
            for tenant, record in due:
                try:
                    await retrain(tenant, record)
                except Exception:  # one tenant's failure must not stop the others' retraining
                    log.exception("retraining recommender %s of %s failed", record.id, tenant)
