"""The whole chain on an injected clock: rule -> PENDING -> FIRING -> RESOLVED.

Real receivers (a Starlette webhook receiver checking signatures, a Slack-format
receiver, an aiosmtpd SMTP server) each get exactly one firing and one resolve
notification, and a live `alertEvents` subscription sees every transition.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from tests.alerting.conftest import (
    Clock,
    alert,
    create_alert,
    ingest,
    receiver_channels,
    subscribed,
    tick,
)
from tests.conftest import GraphQLClient, serving
from tests.fixtures.alert_receivers import HttpReceiver, SmtpReceiver
from tests.graphql_ws import GraphQLWS

EVENTS = """subscription {
  alertEvents { kind alertName state previousState value labels annotations cursor
    notification { status reason notificationIds dueAt } }
}"""

RULE: dict[str, Any] = {
    "name": "High Error Rate",
    "condition": "error_rate > 0.05",
    "severity": "CRITICAL",
    "for": "30s",
    "interval": "10s",
    "channels": ["hook", "slack", "mail"],
    "actions": ["notify_oncall"],
    "groupWait": "0s",
    "groupInterval": "1m",
    "annotations": {"summary": "error rate is {{ $value }}"},
}


async def _next_event(ws: GraphQLWS) -> dict[str, Any]:
    message = await ws.next_data()
    event: dict[str, Any] = message["payload"]["data"]["alertEvents"]
    return event


async def test_static_rule_fires_notifies_once_and_resolves(
    app: Starlette,
    acme: GraphQLClient,
    clock: Clock,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    await receiver_channels(acme, http_receiver, smtp_receiver)
    start = clock.now
    await ingest(acme, "error_rate", 0.01, clock.now)
    created = await create_alert(acme, **RULE)
    alert_id = created["id"]
    async with serving(app, lifespan=False) as address:
        ws = await GraphQLWS.open(
            f"ws://{address}/graphql", {"Authorization": f"Bearer {acme.key}"}
        )
        await ws.ack()
        await ws.subscribe(EVENTS)
        await subscribed(app, "acme")
        await tick(app)
        assert (await alert(acme, alert_id))["state"] == "INACTIVE"

        await ingest(acme, "error_rate", 0.2, clock.at(10))
        clock.advance(10)
        await tick(app)
        pending = await _next_event(ws)
        assert (pending["previousState"], pending["state"]) == ("INACTIVE", "PENDING")
        assert pending["notification"]["status"] == "NONE"
        assert pending["annotations"] == {"summary": "error rate is 0.2"}

        await ingest(acme, "error_rate", 0.3, clock.at(15))
        clock.advance(15)  # 25s after the crossing: still pending
        await tick(app)
        assert (await alert(acme, alert_id))["state"] == "PENDING"
        assert http_receiver.requests == []

        await ingest(acme, "error_rate", 0.25, clock.at(15))
        clock.advance(15)  # 40s: held for more than 30s
        await tick(app)
        firing = await _next_event(ws)
        assert (firing["previousState"], firing["state"]) == ("PENDING", "FIRING")
        assert firing["notification"]["status"] == "SENT"
        assert len(firing["notification"]["notificationIds"]) == 4  # 3 channels + 1 action
        assert len(http_receiver.at("/hook")) == 1
        assert len(http_receiver.at("/slack")) == 1
        assert len(http_receiver.at("/hook-oncall")) == 1
        assert len(smtp_receiver.messages) == 1

        hook = http_receiver.at("/hook")[0]
        assert hook.signed
        assert hook.body["status"] == "firing"
        assert hook.body["alerts"][0]["annotations"] == {"summary": "error rate is 0.25"}
        assert hook.headers["x-alert-notification-id"] == hook.body["id"]
        slack = http_receiver.at("/slack")[0].body
        assert slack["text"].startswith("[FIRING] High Error Rate")
        assert slack["blocks"][0]["type"] == "header"
        mail = smtp_receiver.messages[0]
        assert mail["Subject"].startswith("[FIRING] High Error Rate")
        assert mail["To"] == "oncall@example.com"

        await ingest(acme, "error_rate", 0.01, clock.at(10))
        clock.advance(10)  # back under the threshold
        await tick(app)
        resolved = await _next_event(ws)
        assert (resolved["previousState"], resolved["state"]) == ("FIRING", "RESOLVED")
        # the group notified 10s ago: the resolve waits for groupInterval (1m)
        assert resolved["notification"]["status"] == "QUEUED"
        assert len(http_receiver.at("/hook")) == 1

        clock.now = start + 100_000  # 1m after the firing notification (at 40s)
        await tick(app)
        flushed = await _next_event(ws)
        assert flushed["kind"] == "NOTIFICATION"
        assert flushed["notification"]["status"] == "SENT"
        await ws.close()

    assert [r.body["status"] for r in http_receiver.at("/hook")] == ["firing", "resolved"]
    assert [r.body["text"][:10] for r in http_receiver.at("/slack")] == [
        "[FIRING] H",
        "[RESOLVED]",
    ]
    assert len(http_receiver.at("/hook-oncall")) == 1  # actions run on firing only
    assert [m["Subject"].split("]")[0] for m in smtp_receiver.messages] == [
        "[FIRING",
        "[RESOLVED",
    ]
    assert all(r.signed for r in http_receiver.requests if r.path.startswith("/hook"))
    ids = [r.body["id"] for r in http_receiver.at("/hook")]
    assert len(set(ids)) == 2

    final = await alert(acme, alert_id)
    assert final["state"] == "RESOLVED"
    assert [h["state"] for h in final["history"]] == ["RESOLVED", "FIRING", "PENDING"]
