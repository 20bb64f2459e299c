"""The pure chain: state machine, keep-firing, no data and errors, grouping and flapping."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from analytics_gateway.alerting.engine import Advance, RuleState, advance
from analytics_gateway.alerting.model import AlertRule, LabelMatcher, MatchOp, Silence
from analytics_gateway.alerting.state import AlertState, Instance, Outcome, Result
from analytics_gateway.domain import canonical_labels

RULE = AlertRule(
    id="r1",
    tenant="acme",
    name="errors",
    condition="error_rate > 0.05",
    for_ms=30_000,
    channels=("hook",),
    actions=("scale_up",),
    group_wait_ms=0,
    group_interval_ms=60_000,
    repeat_interval_ms=3_600_000,
)
KEY = canonical_labels({})


def _holds(value: float = 1.0) -> dict[str, tuple[dict[str, str], Outcome]]:
    return {KEY: ({}, Outcome(Result.HOLDS, value))}


def _clear(value: float = 0.0) -> dict[str, tuple[dict[str, str], Outcome]]:
    return {KEY: ({}, Outcome(Result.CLEAR, value))}


class Run:
    """Feeds outcomes at given seconds and keeps what came out."""

    def __init__(self, rule: AlertRule = RULE, silences: tuple[Silence, ...] = ()) -> None:
        self.rule = rule
        self.state = RuleState()
        self.silences = silences
        self.last: Advance | None = None
        self.sent: list[dict[str, object]] = []

    def at(self, seconds: float, evaluation: object) -> list[tuple[str, str, str]]:
        adv = advance(self.rule, self.state, evaluation, int(seconds * 1000), self.silences)  # type: ignore[arg-type]
        self.state, self.last = adv.state, adv
        self.sent += adv.notifications
        return [
            (e["previousState"] or "", e["state"], e["notification"]["status"])
            for e in adv.events
            if e["kind"] == "TRANSITION"
        ]

    @property
    def targets(self) -> list[tuple[str, str]]:
        return [(str(n["target"]), str(n["status"])) for n in self.sent]


def test_pending_for_then_firing_then_resolved_after_group_interval() -> None:
    run = Run()
    assert run.at(0, _holds()) == [("INACTIVE", "PENDING", "NONE")]
    assert run.at(20, _holds()) == []
    assert run.at(30, _holds(2.0)) == [("PENDING", "FIRING", "SENT")]
    assert run.targets == [("hook", "firing"), ("scale_up", "firing")]
    assert run.at(40, _clear()) == [("FIRING", "RESOLVED", "QUEUED")]
    assert run.last is not None
    assert run.last.next_flush_ms == 90_000
    assert run.at(60, _clear()) == []
    run.at(90, _clear())
    assert run.targets[2:] == [("hook", "resolved")]  # actions run on firing only


def test_a_flap_within_the_group_interval_sends_nothing() -> None:
    run = Run(replace(RULE, for_ms=0))
    run.at(0, _holds())
    assert run.at(10, _clear()) == [("FIRING", "RESOLVED", "QUEUED")]
    assert run.at(20, _holds()) == [("RESOLVED", "FIRING", "HELD")]
    run.at(70, _holds())
    assert run.targets == [("hook", "firing"), ("scale_up", "firing")]


def test_pending_that_clears_never_notifies_and_keep_firing_holds_on() -> None:
    run = Run(replace(RULE, keep_firing_for_ms=20_000))
    run.at(0, _holds())
    assert run.at(10, _clear()) == [("PENDING", "INACTIVE", "NONE")]
    run.at(20, _holds())
    run.at(50, _holds())
    assert run.state.state is AlertState.FIRING
    assert run.at(60, _clear()) == []  # keep firing for 20s
    assert run.at(75, _holds()) == []  # holds again: the keep-firing clock restarts
    assert run.at(80, _clear()) == []
    assert run.at(100, _clear()) == [("FIRING", "RESOLVED", "QUEUED")]


def test_no_data_and_errors_are_states() -> None:
    run = Run(replace(RULE, for_ms=0))
    assert run.at(0, {}) == [("INACTIVE", "NODATA", "NONE")]
    assert run.at(10, _holds()) == [("NODATA", "FIRING", "SENT")]
    assert run.at(20, "reading metrics failed: store down") == [("FIRING", "ERROR", "QUEUED")]
    assert run.state.instances[KEY].error == "reading metrics failed: store down"
    assert run.at(30, _clear()) == [("ERROR", "INACTIVE", "NONE")]


def test_series_that_disappear_go_nodata_then_are_forgotten() -> None:
    run = Run(replace(RULE, for_ms=0))
    both = {canonical_labels({"host": h}): ({"host": h}, Outcome(Result.HOLDS, 1.0)) for h in "ab"}
    run.at(0, both)
    only_a = {k: v for k, v in both.items() if v[0]["host"] == "a"}
    moved = run.at(10, only_a)
    assert moved == [("FIRING", "NODATA", "QUEUED")]
    run.at(20, only_a)
    assert [i.labels["host"] for i in run.state.instances.values()] == ["a"]


def test_a_resolve_says_what_resolved_even_once_its_series_is_forgotten() -> None:
    run = Run(replace(RULE, for_ms=0, channels=("hook",), actions=()))
    both = {canonical_labels({"host": h}): ({"host": h}, Outcome(Result.HOLDS, 1.0)) for h in "ab"}
    run.at(0, both)
    only_a = {k: v for k, v in both.items() if v[0]["host"] == "a"}
    run.at(10, only_a)  # b: FIRING -> NODATA, queued behind the group interval
    run.at(20, only_a)  # b forgotten
    run.at(70, only_a)  # the group's next flush
    alerts = cast(list[dict[str, Any]], run.sent[-1]["alerts"])
    assert {a["labels"]["host"]: a["status"] for a in alerts} == {"a": "firing", "b": "resolved"}


def test_repeat_and_silences() -> None:
    silence = Silence(
        id="s1",
        tenant="acme",
        matchers=(LabelMatcher("alertname", MatchOp.EQ, "errors"),),
        starts_at_ms=0,
        ends_at_ms=50_000,
        created_by="k",
        comment="",
    )
    run = Run(replace(RULE, for_ms=0, repeat_interval_ms=100_000), (silence,))
    assert run.at(0, _holds()) == [("INACTIVE", "FIRING", "SILENCED")]
    run.at(40, _holds())
    assert run.sent == []
    run.at(50, _holds())  # the silence ended
    assert run.targets == [("hook", "firing"), ("scale_up", "firing")]
    run.at(150, _holds())  # unchanged for repeatInterval: channels again, not actions
    assert run.targets[2:] == [("hook", "firing")]
    assert run.last is not None
    assert [e["kind"] for e in run.last.events] == ["NOTIFICATION"]


def test_notification_ids_are_deterministic() -> None:
    first, second = Run(replace(RULE, for_ms=0)), Run(replace(RULE, for_ms=0))
    first.at(0, _holds())
    second.at(5, _holds(3.0))
    assert [n["id"] for n in first.sent] == [n["id"] for n in second.sent]
    assert len({n["id"] for n in first.sent}) == 2


def test_observed_is_replace_of_value_and_error_and_keeps_an_unchanged_instance() -> None:
    instance = Instance(
        "k", {"host": "a"}, AlertState.FIRING, since_ms=5, active_since_ms=3, fired_at_ms=5,
        clearing_since_ms=7, value=1.5, seq=4, error=None,
    )  # fmt: skip
    assert instance.observed(2.5, "late") == replace(instance, value=2.5, error="late")
    assert instance.observed(1.5, None) is instance
