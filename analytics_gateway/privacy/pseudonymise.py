"""Pseudonymous user ids: what events store instead of the userId a client sent.

With `ANALYTICS_PSEUDONYMISE_USERS`, the ingest service keeps
`p:<hex HMAC-SHA256(tenant key, userId)>`, and every read that filters by a
userId (and `eraseUser`) passes the id through the same function, so the
original id still finds the events while the stores never hold it. The
tenant key is itself an HMAC of the tenant under the gateway secret
(`ANALYTICS_PSEUDONYMISE_SECRET`): the same user in two tenants gets unrelated
pseudonyms, and nobody without the secret can test a guessed id against a
stored one. Losing or changing the secret makes stored pseudonyms unreachable
by the original ids (they stay erasable by the pseudonym itself).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

PREFIX = "p:"
_CONTEXT = b"analytics-gateway/user-pseudonym/v1\x00"


class Pseudonyms:
    """The stored form of user ids; with no secret, ids are stored as sent."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret.encode() if secret else None

    @property
    def enabled(self) -> bool:
        return self._secret is not None

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one instance per app, tenants bounded
    def _tenant_key(self, tenant: str) -> bytes:
        assert self._secret is not None
        return hmac.new(self._secret, _CONTEXT + tenant.encode(), hashlib.sha256).digest()

    def stored(self, tenant: str, user_id: str) -> str:
        """What the stores keep (and are queried with) for `user_id` of `tenant`."""
        if self._secret is None:
            return user_id
        digest = hmac.new(self._tenant_key(tenant), user_id.encode(), hashlib.sha256)
        return PREFIX + digest.hexdigest()

    def stored_or_none(self, tenant: str, user_id: str | None) -> str | None:
        return None if user_id is None else self.stored(tenant, user_id)

    def erasable(self, tenant: str, user_id: str) -> list[str]:
        """Every form the user's events may be stored under: the pseudonym, and the id
        as sent (events from before pseudonymisation was turned on)."""
        return list(dict.fromkeys((self.stored(tenant, user_id), user_id)))
