"""Tenants' regular expressions run in linear time: none can freeze the gateway for everyone.

Before, label matchers ran Python's backtracking `re` on the event loop: after
ingesting `redos{x="aaaaaaaaaaaaaaaaaaaaaaaa!"}`, a read-only key's
`simulateAlert` with `redos{x=~"(a+)+"}` took 35 s, and every other tenant's
requests waited as long. With 40 `a`s, backtracking would take hours, so the
deadlines below are generous for linear matching and hopeless for
backtracking: no timing is measured, only whether the work ends at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import GraphQLClient, MakeKey

EVIL = "a" * 40 + "!"
DEADLINE_S = 120
SIMULATE = """query($rule: AlertRuleInput!) {
  simulateAlert(rule: $rule, last: "30m") { evaluations transitions { state } }
}"""
SILENCE = """mutation($m: [MatcherInput!]!) {
  createSilence(input: {matchers: $m, duration: "1h"}) { id }
}"""
CREATE_ALERT = """mutation($rule: AlertRuleInput!) { createAlert(input: $rule) { id } }"""


async def _ingest(gql: GraphQLClient) -> None:
    body = await gql.execute(
        "mutation($p: [MetricPointInput!]!) { ingestMetrics(points: $p) { accepted } }",
        {"p": [{"name": "redos", "value": 1.0, "labels": {"x": EVIL}}]},
    )
    assert body["data"]["ingestMetrics"]["accepted"] == 1, body


async def test_catastrophic_patterns_end_quickly_and_others_are_served(
    gql: GraphQLClient, make_key: MakeKey
) -> None:
    await _ingest(gql)
    reader = GraphQLClient(gql.http, await make_key("acme", "read"))
    other = GraphQLClient(gql.http, await make_key("globex", "read"))
    patterns = ["(a+)+", "(a|a)*b", "(a|aa)+$", "(.*a){20}", "(a+)+!"]

    async def simulate(pattern: str) -> dict[str, Any]:
        rule = {"name": "r", "condition": f'max(redos{{x=~"{pattern}"}}[5m]) > 0',
                "interval": "1m"}  # fmt: skip
        return await reader.execute(SIMULATE, {"rule": rule})

    answers = await asyncio.wait_for(
        asyncio.gather(*(simulate(p) for p in patterns), other.execute("{ viewer }")),
        DEADLINE_S,
    )
    *simulated, viewer = answers
    for pattern, body in zip(patterns, simulated, strict=True):
        assert "errors" not in body, (pattern, body)
        assert body["data"]["simulateAlert"]["evaluations"] > 0
    states = [[t["state"] for t in b["data"]["simulateAlert"]["transitions"]] for b in simulated]
    # the value ends in "!": only the last pattern matches it, and only its rule fires
    assert states[:-1] == [["NODATA"]] * 4
    assert "FIRING" in states[-1]
    assert viewer["data"]["viewer"] is not None


async def test_saved_rules_and_silences_take_the_same_patterns(gql: GraphQLClient) -> None:
    await _ingest(gql)
    rule = {"name": "evil", "condition": 'redos{x=~"(a|a)*b"} > 0', "interval": "15s"}
    created = await asyncio.wait_for(gql.execute(CREATE_ALERT, {"rule": rule}), DEADLINE_S)
    assert "errors" not in created, created
    silence = [{"label": "x", "operator": "REGEX", "value": "(a+)+"}]
    silenced = await asyncio.wait_for(gql.execute(SILENCE, {"m": silence}), DEADLINE_S)
    assert "errors" not in silenced, silenced
    listed = await asyncio.wait_for(gql.execute("{ alerts { name state } }"), DEADLINE_S)
    assert [a["name"] for a in listed["data"]["alerts"]] == ["evil"]


async def test_patterns_re2_cannot_run_linearly_are_refused(gql: GraphQLClient) -> None:
    for pattern, why in (
        (r"(a)\\1", "backreferences"),
        ("(?=a)a", "lookaround"),
        ("a" * 300, "at most 256"),
    ):
        rule = {"name": "r", "condition": f'redos{{x=~"{pattern}"}} > 0'}
        body = await gql.execute(CREATE_ALERT, {"rule": rule})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert why in error["message"], error
        silence = [{"label": "x", "operator": "REGEX", "value": pattern.replace("\\\\", "\\")}]
        body = await gql.execute(SILENCE, {"m": silence})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert why in error["message"], error
