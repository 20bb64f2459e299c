"""A KPI as an alert condition: the formula printed in the condition language.

Each metric `m{l="v"}` becomes `agg(m{l="v"}[window])` (the KPI's aggregation
over the trailing window), the arithmetic is kept, and the whole is compared
with the target on the worse side: `< target` when higher is better, `> target`
when lower is. The rule is then an ordinary rule of the alerting engine, so
`for`, silences, grouping and notifications work as for any other. Event
counts have no counterpart in the condition language (it reads metrics), so a
KPI with `events(...)` is refused.
"""

from __future__ import annotations

import json
import re

from analytics_gateway.alerting.model import Severity
from analytics_gateway.alerting.specs import RuleSpec
from analytics_gateway.dashboards import formula as formulas
from analytics_gateway.errors import BadUserInput
from analytics_gateway.kpis.model import Direction, KpiDefinition

MAX_NAME = 128
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9 _.:-]+")


def _text(node: formulas.Node, aggregation: str, window: str) -> str:
    if isinstance(node, formulas.Number):
        return repr(node.value)
    if isinstance(node, formulas.MetricRef):
        matchers = ", ".join(f"{k}={json.dumps(v)}" for k, v in node.labels)
        selector = f"{node.name}{{{matchers}}}" if matchers else node.name
        return f"{aggregation}({selector}[{window}])"
    if isinstance(node, formulas.EventRef):
        raise BadUserInput(
            f'events("{node.type}"): alert conditions read metrics only, so a KPI with event '
            "counts cannot be alerted on",
            field="kpi",
        )
    if isinstance(node, formulas.Negate):
        return f"-({_text(node.operand, aggregation, window)})"
    left = _text(node.left, aggregation, window)
    right = _text(node.right, aggregation, window)
    return f"({left} {node.op} {right})"


def condition_of(definition: KpiDefinition, window: str) -> str:
    """The condition that holds while the KPI over the trailing `window` is off target."""
    if definition.target is None:
        raise BadUserInput(
            f"KPI {definition.name!r} has no target; give it one to alert on it", field="kpi"
        )
    tree = formulas.parse(definition.formula)

    def bind(ref: formulas.MetricRef) -> formulas.MetricRef:
        labels = {**definition.labels, **dict(ref.labels)}
        return formulas.MetricRef(ref.name, tuple(sorted(labels.items())))

    text = _text(formulas.transform(tree, bind), definition.aggregation.value, window)
    worse = "<" if definition.direction is Direction.HIGHER else ">"
    return f"{text} {worse} {definition.target!r}"


def _literal(text: str) -> str:
    """The KPI's name as plain text in an annotation template: the template language has
    no escape, so braces are kept apart instead of opening a placeholder."""
    while "{{" in text or "}}" in text:
        text = text.replace("{{", "{ {").replace("}}", "} }")
    return text


def default_name(definition: KpiDefinition) -> str:
    """ "<KPI name> off target", in the characters a rule name takes."""
    cleaned = " ".join(_NOT_IN_NAMES.sub(" ", definition.name).split())
    suffix = " off target"
    return (cleaned or f"KPI {definition.id}")[: MAX_NAME - len(suffix)] + suffix


def rule_spec(
    definition: KpiDefinition,
    for_: str,
    window: str,
    severity: Severity,
    channels: list[str],
    name: str | None,
) -> RuleSpec:
    """An ordinary alert rule for the KPI, labelled `kpi=<id>`."""
    better = "at least" if definition.direction is Direction.HIGHER else "at most"
    return RuleSpec(
        name=name or default_name(definition),
        condition=condition_of(definition, window),
        severity=severity,
        for_=for_,
        channels=channels,
        labels={"kpi": definition.id},
        annotations={
            "summary": f"KPI {_literal(definition.name)} is {{{{ $value }}}} over {window}; "
            f"the target is {better} {definition.target!r}"
        },
    )
