"""Alerting's documents in the `ConfigStore`: one kind per concept, always per tenant.

alert_rule     rule definitions (versioned: updates may name the version they change)
alert_state    per rule: instances, groups, recent history (written on change only)
alert_silence  silences
alert_channel  notification channels and actions
alert_outbox   notifications not yet delivered (create-only, by deterministic id)
alert_sent     delivered (or given up) notifications, kept a while so a replayed
               transition cannot send again

A channel's URL (Slack's carries its token), webhook signing secret and SMTP
password are sealed before they are stored and opened when read
(`crypto.envelope`, bound to tenant, kind, id and field): the store never
holds them in plaintext, and callers see plain `Channel`s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from analytics_gateway.alerting.engine import RuleState
from analytics_gateway.alerting.model import AlertRule, Channel, Silence
from analytics_gateway.backends.base import ConfigStore
from analytics_gateway.crypto.envelope import Secrets
from analytics_gateway.errors import Conflict

RULE = "alert_rule"
STATE = "alert_state"
SILENCE = "alert_silence"
CHANNEL = "alert_channel"
OUTBOX = "alert_outbox"
SENT = "alert_sent"

CHANNEL_SECRETS = ("url", "secret", "password")
# what `crypto rotate` re-seals: document kind -> sealed fields
SEALED = {CHANNEL: CHANNEL_SECRETS}


class AlertDocuments:
    def __init__(self, config: ConfigStore, secrets: Secrets) -> None:
        self.config = config
        self.secrets = secrets

    # -- rules -------------------------------------------------------------

    async def rules(self, tenant: str) -> list[AlertRule]:
        found = await self.config.list_documents(RULE, tenant)
        return [AlertRule.from_document(tenant, version, doc) for _, version, doc in found]

    async def all_rules(self) -> list[AlertRule]:
        out: list[AlertRule] = []
        for tenant in await self.config.document_tenants(RULE):
            out += await self.rules(tenant)
        return out

    async def rule(self, tenant: str, rule_id: str) -> AlertRule | None:
        found = await self.config.get_document(RULE, tenant, rule_id)
        return None if found is None else AlertRule.from_document(tenant, *found)

    async def put_rule(self, rule: AlertRule, expected_version: int | None) -> AlertRule:
        version = await self.config.put_document(
            RULE, rule.tenant, rule.id, rule.to_document(), expected_version
        )
        return rule.with_version(version)

    async def delete_rule(self, tenant: str, rule_id: str) -> bool:
        deleted = await self.config.delete_document(RULE, tenant, rule_id)
        await self.config.delete_document(STATE, tenant, rule_id)
        return deleted

    # -- rule state --------------------------------------------------------

    async def state(self, tenant: str, rule_id: str) -> RuleState:
        found = await self.config.get_document(STATE, tenant, rule_id)
        return RuleState() if found is None else RuleState.from_document(*found)

    async def states(self, tenant: str) -> dict[str, RuleState]:
        found = await self.config.list_documents(STATE, tenant)
        return {doc_id: RuleState.from_document(version, doc) for doc_id, version, doc in found}

    async def put_states(
        self, tenant: str, states: Sequence[tuple[str, RuleState]]
    ) -> list[int | Conflict]:
        """Write each state if nobody else did since we read it, all in one round trip;
        per rule, the new version or the `Conflict` it met."""
        return await self.config.put_documents(
            STATE,
            tenant,
            [(rule_id, state.to_document(), state.version) for rule_id, state in states],
        )

    # -- silences ----------------------------------------------------------

    async def silences(self, tenant: str) -> list[Silence]:
        found = await self.config.list_documents(SILENCE, tenant)
        return [Silence.from_document(tenant, doc) for _, _, doc in found]

    async def silence(self, tenant: str, silence_id: str) -> Silence | None:
        found = await self.config.get_document(SILENCE, tenant, silence_id)
        return None if found is None else Silence.from_document(tenant, found[1])

    async def put_silence(self, silence: Silence) -> None:
        await self.config.put_document(SILENCE, silence.tenant, silence.id, silence.to_document())

    async def delete_silence(self, tenant: str, silence_id: str) -> bool:
        return await self.config.delete_document(SILENCE, tenant, silence_id)

    # -- channels ----------------------------------------------------------

    def _open_channel(self, tenant: str, doc_id: str, version: int, doc: dict[str, Any]) -> Channel:
        """Raises `SecretUnreadable` naming the channel when its secrets do not open."""
        opened = self.secrets.open_fields(doc, CHANNEL_SECRETS, tenant, CHANNEL, doc_id)
        return Channel.from_document(tenant, version, opened)

    async def channels(self, tenant: str) -> list[Channel]:
        found = await self.config.list_documents(CHANNEL, tenant)
        return [self._open_channel(tenant, *item) for item in found]

    async def channel(self, tenant: str, channel_id: str) -> Channel | None:
        found = await self.config.get_document(CHANNEL, tenant, channel_id)
        return None if found is None else self._open_channel(tenant, channel_id, *found)

    async def channel_named(self, tenant: str, name: str) -> Channel | None:
        """Only this channel's secrets are opened: one that does not open cannot hold up
        deliveries to the tenant's other channels."""
        for doc_id, version, doc in await self.config.list_documents(CHANNEL, tenant):
            if doc.get("name") == name:
                return self._open_channel(tenant, doc_id, version, doc)
        return None

    async def put_channel(self, channel: Channel, expected_version: int | None) -> int:
        sealed = self.secrets.seal_fields(
            channel.to_document(), CHANNEL_SECRETS, channel.tenant, CHANNEL, channel.id
        )
        return await self.config.put_document(
            CHANNEL, channel.tenant, channel.id, sealed, expected_version
        )

    async def delete_channel(self, tenant: str, channel_id: str) -> bool:
        return await self.config.delete_document(CHANNEL, tenant, channel_id)

    # -- outbox ------------------------------------------------------------

    async def enqueue(
        self, notification: dict[str, Any], now_ms: int, trace: Mapping[str, str] | None = None
    ) -> bool:
        """Queue a notification once: False if its id was queued or sent before.
        `trace` is the trace context (`traceparent`) its delivery continues."""
        tenant, doc_id = notification["tenant"], notification["id"]
        if await self.config.get_document(SENT, tenant, doc_id) is not None:
            return False
        entry = {
            "notification": notification,
            "trace": dict(trace or {}),
            "attempts": 0,
            "next_attempt_ms": now_ms,
            "claimed_by": None,
            "claim_until_ms": 0,
            "last_error": None,
        }
        try:
            await self.config.put_document(OUTBOX, tenant, doc_id, entry, expected_version=0)
        except Conflict:
            return False
        return True

    async def outbox_tenants(self) -> list[str]:
        return await self.config.document_tenants(OUTBOX)

    async def outbox(self, tenant: str) -> list[tuple[str, int, dict[str, Any]]]:
        return await self.config.list_documents(OUTBOX, tenant)

    async def update_entry(
        self, tenant: str, doc_id: str, entry: dict[str, Any], expected_version: int
    ) -> int:
        return await self.config.put_document(OUTBOX, tenant, doc_id, entry, expected_version)

    async def finish(self, tenant: str, doc_id: str, record: dict[str, Any]) -> None:
        """Record the outcome, then drop the entry (the record blocks a re-queue)."""
        with contextlib.suppress(Conflict):
            await self.config.put_document(SENT, tenant, doc_id, record, expected_version=0)
        await self.config.delete_document(OUTBOX, tenant, doc_id)

    async def sent(self, tenant: str) -> list[tuple[str, int, dict[str, Any]]]:
        return await self.config.list_documents(SENT, tenant)

    async def forget_sent(self, tenant: str, doc_id: str) -> None:
        await self.config.delete_document(SENT, tenant, doc_id)
