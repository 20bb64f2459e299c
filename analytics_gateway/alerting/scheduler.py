"""Evaluates the rules this process owns, at their interval and on ingest.

A round takes every owned rule that is due, reads what they all need with ONE
`query_many`, computes each condition, advances each rule (`engine.advance`),
queues the notifications in the outbox, then stores the changed states and
publishes the events. Queuing before storing is what makes a crash in between
harmless: the re-run yields the same notification ids, which the outbox
refuses. A state write that finds a newer version (another process took the
rule over) is dropped and the rule's state reloaded.

Ingest wakes rules up: the scheduler listens on the live channel of every
metric its rules read (through the Hub, so ingest on another replica counts
too) and makes those rules due, at most once per `min_gap_ms` each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from analytics_gateway import tracing
from analytics_gateway.alerting.engine import Advance, RuleState, advance
from analytics_gateway.alerting.evaluate import EvaluationError, Read, evaluate, plan_reads
from analytics_gateway.alerting.expr import Condition, parse_condition
from analytics_gateway.alerting.inputs import BandCache, RoundInputs, wanted_reads
from analytics_gateway.alerting.lease import LocalOwnership, RedisOwnership, shard_of
from analytics_gateway.alerting.metrics import AlertMetrics
from analytics_gateway.alerting.model import AlertRule, Silence
from analytics_gateway.alerting.outbox import Outbox
from analytics_gateway.alerting.store import AlertDocuments
from analytics_gateway.backends.base import MetricStore
from analytics_gateway.background import on_wake_or_tick, stop_task
from analytics_gateway.domain import Series
from analytics_gateway.errors import Conflict, GatewayError
from analytics_gateway.subscriptions.channels import metric_channel
from analytics_gateway.subscriptions.hub import Hub

log = logging.getLogger(__name__)

Publish = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[None]]
Ownership = LocalOwnership | RedisOwnership
RuleKey = tuple[str, str]
BULK_LOAD = 20


@dataclass
class Runtime:
    rule: AlertRule
    condition: Condition
    shard: int
    state: RuleState | None = None  # loaded while this process owns the rule
    next_due_ms: int = 0
    last_eval_ms: int | None = None

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.condition.selectors()}


@dataclass
class RoundStats:
    rules: int = 0
    queries: int = 0
    read_ms: float = 0.0
    total_ms: float = 0.0
    lags_ms: list[int] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        docs: AlertDocuments,
        store: MetricStore,
        ownership: Ownership,
        outbox: Outbox,
        publish: Publish,
        clock: Callable[[], int],
        metrics: AlertMetrics,
        hub: Hub | None = None,
        min_gap_ms: int = 1_000,
    ) -> None:
        self._docs = docs
        self._store = store
        self.ownership = ownership
        self._outbox = outbox
        self._publish = publish
        self._clock = clock
        self._metrics = metrics
        self._hub = hub
        self._min_gap = min_gap_ms
        self.rules: dict[RuleKey, Runtime] = {}
        self._readers: dict[tuple[str, str], set[RuleKey]] = {}
        self._silences: dict[str, list[Silence]] = {}
        self._bands = BandCache()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listeners: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.last_round = RoundStats()
        self.on_round: Callable[[RoundStats], None] | None = None

    # -- the rule set ------------------------------------------------------

    def upsert(self, rule: AlertRule, condition: Condition | None = None) -> None:
        key = (rule.tenant, rule.id)
        current = self.rules.get(key)
        if current is not None and current.rule.version == rule.version and rule.version:
            return
        parsed = condition or parse_condition(rule.condition)
        runtime = Runtime(rule, parsed, shard_of(rule.tenant, rule.id), next_due_ms=self._clock())
        if current is not None:
            runtime.state = current.state
        self._forget_readers(key)
        self.rules[key] = runtime
        for metric in runtime.metrics:
            self._readers.setdefault((rule.tenant, metric), set()).add(key)
        self._wake.set()

    def remove(self, tenant: str, rule_id: str) -> None:
        self._forget_readers((tenant, rule_id))
        self.rules.pop((tenant, rule_id), None)

    def _forget_readers(self, key: RuleKey) -> None:
        runtime = self.rules.get(key)
        if runtime is None:
            return
        for metric in runtime.metrics:
            readers = self._readers.get((key[0], metric))
            if readers is not None:
                readers.discard(key)
                if not readers:
                    del self._readers[(key[0], metric)]

    def set_silences(self, tenant: str, silences: list[Silence]) -> None:
        self._silences[tenant] = silences

    async def sync(self) -> None:
        """Reload rules and silences from the store (others may have changed them)."""
        rules = await self._docs.all_rules()
        seen = set()
        for rule in rules:
            seen.add((rule.tenant, rule.id))
            try:
                self.upsert(rule)
            except GatewayError as exc:  # stored by an older version with other rules
                log.warning("rule %s/%s does not parse: %s", rule.tenant, rule.id, exc.message)
        for key in [k for k in self.rules if k not in seen]:
            self.remove(*key)
        for tenant in {t for t, _ in seen}:
            self._silences[tenant] = await self._docs.silences(tenant)
        await self.update_listeners()

    async def rebalance(self) -> None:
        """Renew leases; forget the state of rules that moved away."""
        _, lost = await self.ownership.tick()
        for runtime in self.rules.values():
            if runtime.shard in lost:
                runtime.state = None
        self._metrics.owned_rules.set(sum(1 for r in self._owned()))
        await self.update_listeners()
        self._wake.set()

    def _owned(self) -> Iterable[Runtime]:
        return (r for r in self.rules.values() if self.ownership.owns(r.shard))

    # -- ingest wake-ups -----------------------------------------------------

    async def update_listeners(self) -> None:
        """Listen on the metrics owned rules read; returns once the new ones listen."""
        if self._hub is None:
            return
        wanted = {
            (r.rule.tenant, metric) for r in self._owned() if r.rule.enabled for metric in r.metrics
        }
        for key in [k for k in self._listeners if k not in wanted]:
            task = self._listeners.pop(key)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for key in wanted - self._listeners.keys():
            ready = asyncio.Event()
            task = asyncio.create_task(self._listen(*key, ready), name="alert-ingest")
            self._listeners[key] = task
            waiter = asyncio.ensure_future(ready.wait())
            await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    async def _listen(self, tenant: str, metric: str, ready: asyncio.Event) -> None:
        assert self._hub is not None
        try:
            async with self._hub.listen(metric_channel(tenant, metric)) as queue:
                ready.set()
                async for _ in queue:
                    self.on_ingest(tenant, metric)
        except GatewayError as exc:  # broker down: the interval still evaluates it
            log.warning("alerting cannot listen on %s/%s: %s", tenant, metric, exc.message)

    def on_ingest(self, tenant: str, metric: str) -> None:
        now = self._clock()
        for key in self._readers.get((tenant, metric), ()):
            runtime = self.rules[key]
            earliest = now if runtime.last_eval_ms is None else runtime.last_eval_ms + self._min_gap
            runtime.next_due_ms = min(runtime.next_due_ms, max(now, earliest))
        self._wake.set()

    # -- evaluation ----------------------------------------------------------

    async def run(self, tick_seconds: float) -> None:
        await on_wake_or_tick(
            self._wake, tick_seconds, self.evaluate_due, "alert evaluation round failed"
        )

    async def stop(self) -> None:
        for task in self._listeners.values():
            await stop_task(task)
        self._listeners.clear()

    async def evaluate_due(self) -> int:
        """Run one round for every owned rule due now; return how many were evaluated."""
        async with self._lock:
            now = self._clock()
            due = [r for r in self._owned() if r.rule.enabled and r.next_due_ms <= now]
            if not due:
                return 0
            with tracing.span("alert round", {"alert.rules_due": len(due)}):
                return await self._round(due, now)

    async def _round(self, due: list[Runtime], now: int) -> int:
        """One round over the rules due at `now` (inside its span)."""
        started = time.perf_counter()
        await self._load_states(due)
        due = [r for r in due if r.state is not None]
        results, failure, stats = await self._read(due, now)
        advances: list[tuple[Runtime, Advance]] = []
        inputs: dict[str, RoundInputs] = {}
        for runtime in due:
            tenant = runtime.rule.tenant
            if tenant not in inputs:
                inputs[tenant] = RoundInputs(tenant, now, results, self._bands)
            evaluation: Any = failure
            if failure is None:
                try:
                    evaluation = evaluate(runtime.condition, inputs[tenant])
                except (EvaluationError, ValueError) as exc:
                    evaluation = str(exc)
            assert runtime.state is not None
            adv = advance(
                runtime.rule, runtime.state, evaluation, now, self._silences.get(tenant, [])
            )
            advances.append((runtime, adv))
        await self._commit(advances, now)
        done = self._clock()
        stats.rules = len(due)
        stats.total_ms = (time.perf_counter() - started) * 1000
        stats.lags_ms = [done - r.next_due_ms for r, _ in advances]
        for runtime, adv in advances:
            runtime.last_eval_ms = now
            runtime.next_due_ms = now + runtime.rule.interval_ms
            if adv.next_flush_ms is not None:
                runtime.next_due_ms = min(runtime.next_due_ms, adv.next_flush_ms)
        self._metrics.evaluations.inc(len(advances))
        self._metrics.rounds.observe(stats.total_ms / 1000)
        for lag in stats.lags_ms:
            self._metrics.lag.observe(max(lag, 0) / 1000)
        self.last_round = stats
        if self.on_round is not None:
            self.on_round(stats)
        return len(advances)

    async def _load_states(self, due: list[Runtime]) -> None:
        missing = [r for r in due if r.state is None]
        by_tenant: dict[str, list[Runtime]] = {}
        for runtime in missing:
            by_tenant.setdefault(runtime.rule.tenant, []).append(runtime)
        for tenant, runtimes in by_tenant.items():
            if len(runtimes) > BULK_LOAD:  # one read for the tenant beats many
                stored = await self._docs.states(tenant)
                for runtime in runtimes:
                    runtime.state = stored.get(runtime.rule.id) or RuleState()
                continue
            states = await asyncio.gather(*(self._docs.state(tenant, r.rule.id) for r in runtimes))
            for runtime, state in zip(runtimes, states, strict=True):
                runtime.state = state

    async def _read(
        self, due: list[Runtime], now: int
    ) -> tuple[dict[Read, list[Series]], str | None, RoundStats]:
        wanted = []
        refresh: list[Read] = []
        for runtime in due:
            reads, stale = wanted_reads(runtime.rule.tenant, runtime.condition, self._bands, now)
            wanted += reads
            refresh += stale
        queries, index = plan_reads(wanted, now)
        stats = RoundStats(queries=len(queries))
        if not queries:
            return {}, None, stats
        started = time.perf_counter()
        try:
            answers = await self._store.query_many(queries)
        except GatewayError as exc:
            return {}, f"reading metrics failed: {exc.message}", stats
        finally:
            stats.read_ms = (time.perf_counter() - started) * 1000
        results = {read: answers[i] for read, i in index.items()}
        for read in set(refresh):
            self._bands.put(read, now, results.get(read, []))
        return results, None, stats

    async def _commit(self, advances: list[tuple[Runtime, Advance]], now: int) -> None:
        notifications = [n for _, adv in advances for n in adv.notifications]
        if notifications:
            await self._outbox.enqueue(notifications)  # before the states: see module doc
        by_tenant: dict[str, list[tuple[Runtime, Advance]]] = {}
        for runtime, adv in advances:
            if adv.changed:
                by_tenant.setdefault(runtime.rule.tenant, []).append((runtime, adv))
        # one write per tenant: a transaction (SQLite) or a pipeline (Redis) for all its rules
        written = await asyncio.gather(
            *(
                self._docs.put_states(tenant, [(r.rule.id, adv.state) for r, adv in changed])
                for tenant, changed in by_tenant.items()
            ),
            return_exceptions=True,
        )
        outcomes: list[tuple[tuple[Runtime, Advance], int | BaseException]] = []
        for changed, answer in zip(by_tenant.values(), written, strict=True):
            if isinstance(answer, BaseException):
                outcomes += [(item, answer) for item in changed]
            else:
                outcomes += list(zip(changed, answer, strict=True))
        lost: set[int] = set()
        for (runtime, adv), result in outcomes:
            if isinstance(result, Conflict):
                self._metrics.state_conflicts.inc()
                runtime.state = None  # someone else owns it now; reload if it comes back
                lost.add(id(runtime))
            elif isinstance(result, BaseException):
                log.warning("storing alert state failed: %s", result)
                lost.add(id(runtime))
                runtime.state = None
            else:
                adv.state.version = int(result)
        events: list[tuple[str, dict[str, Any]]] = []
        for runtime, adv in advances:
            if id(runtime) in lost:
                continue
            if not adv.changed:
                runtime.state = adv.state
                continue
            runtime.state = adv.state
            for event in adv.events:
                events.append((runtime.rule.tenant, event))
                if event["kind"] == "TRANSITION":
                    self._metrics.transitions.labels(state=event["state"]).inc()
        if events:
            await self._publish(events)
