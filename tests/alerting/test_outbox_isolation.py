"""One tenant's slow receiver delays only its own channel, never anyone else's notifications.

Before, a dispatch round waited for every delivery it had started: a receiver
that accepted the connection and never answered held the whole outbox for its
timeout times its retries, and another tenant's notification waited behind
it (1.06 s became 19.8 s with one 20 s attempt). Here the hanging receiver
gets ten retries (minutes of attempts); the victim's notification must arrive
while the attacker's delivery is still being attempted.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

from tests.alerting.conftest import Clock, client_for, create_alert, create_channel, ingest
from tests.conftest import MakeKey
from tests.fixtures.alert_receivers import HttpReceiver, hanging_receiver

DEADLINE_S = 60.0


async def _until(condition: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE_S
    while not callable(condition) or not condition():
        if loop.time() > give_up:
            raise AssertionError(f"not within {DEADLINE_S}s: {what}")
        await asyncio.sleep(0.05)


async def test_a_hanging_receiver_does_not_delay_another_tenants_notification(
    app: Starlette, make_key: MakeKey, clock: Clock, http_receiver: HttpReceiver
) -> None:
    outbox = app.state.gateway.services.alerts.outbox
    async with (
        hanging_receiver() as (hang_url, arrived),
        client_for(app, await make_key("attacker", "read,write,admin")) as attacker,
        client_for(app, await make_key("victim", "read,write,admin")) as victim,
    ):
        await create_channel(attacker, name="slow", kind="SLACK", url=hang_url,
                             timeout="20s", maxRetries=10)  # fmt: skip
        await create_channel(victim, name="fast", kind="SLACK", url=http_receiver.url("/fast"))
        await create_alert(attacker, name="a", condition="a > 1", interval="10s",
                           channels=["slow"], groupWait="0s")  # fmt: skip
        await create_alert(victim, name="v", condition="v > 1", interval="10s",
                           channels=["fast"], groupWait="0s")  # fmt: skip

        # the attacker's notification goes out first, and hangs
        await ingest(attacker, "a", 5.0, clock.at(10))
        clock.advance(10)
        await app.state.gateway.services.alerts.evaluate_now()
        await _until(lambda: len(arrived) == 1, "the hanging receiver got its request")

        # then the victim's alert fires; the outbox's own loop delivers it
        await ingest(victim, "v", 5.0, clock.at(10))
        clock.advance(10)
        await app.state.gateway.services.alerts.evaluate_now()
        await _until(lambda: http_receiver.at("/fast"), "the victim's notification arrived")

        # ... while the attacker's delivery is still being attempted
        attacker_pending = await outbox.pending("attacker")
        assert len(attacker_pending) == 1
        assert attacker_pending[0]["notification"]["target"] == "slow"
        assert await outbox.pending("victim") == []
