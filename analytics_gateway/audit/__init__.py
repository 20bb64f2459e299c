"""The audit trail: an append-only, hash-chained log per tenant of security-relevant acts.

- `chain`: an entry's canonical form and hash, and the walk that verifies a chain;
- `trail`: `AuditTrail`, the service that records (never failing the act), pages,
  exports and trims entries, and `verify`, used by `analytics-gateway audit verify`;
- `sign_ins`: the capped map that makes a sign-in check one dict lookup;
- `commands`: what the `analytics-gateway` command records (changes, metadata reads);
- `report`: `audit verify` and `audit head` (heads kept outside the store).

What is recorded: every root mutation field whatever its outcome (a schema
extension, so new mutations are covered without being listed), sign-ins (a
credential's first use in an hour), refused credentials as per-minute summaries,
exports of the log itself, and the command's key and quota changes and reads of
tenants' metadata. The entries live in the config store (`ConfigStore.append_audit`
and friends).
"""

from __future__ import annotations

from analytics_gateway.audit.chain import AuditEntry, Break
from analytics_gateway.audit.trail import AuditMetrics, AuditPage, AuditTrail, verify

__all__ = ["AuditEntry", "AuditMetrics", "AuditPage", "AuditTrail", "Break", "verify"]
