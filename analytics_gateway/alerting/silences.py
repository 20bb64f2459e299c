"""Silences: which ones mute an alert now, and what a valid silence is. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from analytics_gateway.alerting.model import LABEL_RE, LabelMatcher, MatchOp, Silence
from analytics_gateway.errors import BadUserInput
from analytics_gateway.regexes import compile_pattern

MAX_MATCHERS = 16
MAX_SILENCE_MS = 365 * 86_400_000


def muting(silences: Iterable[Silence], labels: Mapping[str, str], now_ms: int) -> list[str]:
    """Ids of the silences active at `now_ms` whose matchers all match `labels`."""
    return [s.id for s in silences if s.active(now_ms) and s.matches(labels)]


def check_matchers(raw: Sequence[tuple[str, str, str]]) -> tuple[LabelMatcher, ...]:
    """Matchers of a new silence; at least one must not match the empty string."""
    if not raw:
        raise BadUserInput("matchers: give at least one matcher", field="matchers")
    if len(raw) > MAX_MATCHERS:
        raise BadUserInput(f"matchers: at most {MAX_MATCHERS}", field="matchers")
    out = []
    for label, op, value in raw:
        if not LABEL_RE.match(label):
            raise BadUserInput(f"matchers: invalid label name {label!r}", field="matchers")
        try:
            match_op = MatchOp(op)
        except ValueError:
            raise BadUserInput(
                f"matchers: operator {op!r} must be one of = != =~ !~", field="matchers"
            ) from None
        if match_op in (MatchOp.RE, MatchOp.NRE):
            compile_pattern(value, "matchers")
        out.append(LabelMatcher(label, match_op, value))
    if all(m.matches({}) for m in out):
        raise BadUserInput(
            "matchers: these match every alert; add one that names a label value",
            field="matchers",
        )
    return tuple(out)


def check_period(starts_at_ms: int, ends_at_ms: int) -> None:
    if ends_at_ms <= starts_at_ms:
        raise BadUserInput("endsAt must be after startsAt", field="endsAt")
    if ends_at_ms - starts_at_ms > MAX_SILENCE_MS:
        raise BadUserInput("a silence lasts at most 365 days", field="endsAt")
