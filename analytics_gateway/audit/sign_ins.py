"""Which actors signed in lately: the check every authenticated request makes, kept cheap.

A credential's first successful use in an hour is a sign-in (`AuditTrail.note_sign_in`);
every other use must cost no more than one dict lookup, since it is on every request.
The map is capped: a flood of distinct valid credentials (tokens with fresh subjects)
evicts the oldest marks instead of growing memory. Marks are kept in the order they were
made and the oldest goes first: a mark is worth nothing once its hour is over, so the one
made longest ago is the one whose loss costs least (at worst a second `signIn` entry for
that actor within its hour). Per process: N replicas record up to N sign-ins an hour.
"""

from __future__ import annotations

from collections import OrderedDict

HOUR_MS = 3_600_000
CAPACITY = 100_000  # about 20 MB of marks at most

Actor = tuple[str, str]
"""(tenant, credential id): a key's id, or `jwt:<sub>` for a token."""


class SignIns:
    def __init__(self, every_ms: int = HOUR_MS, capacity: int = CAPACITY) -> None:
        self.every_ms = every_ms
        self.capacity = capacity
        self.marks: OrderedDict[Actor, int] = OrderedDict()
        """When each actor's current hour began (read it; change it through `is_new`)."""

    def is_new(self, actor: Actor, now_ms: int) -> bool:
        """Whether this use is a sign-in (and mark it so); False within the actor's hour."""
        marked = self.marks.get(actor)
        if marked is not None and now_ms - marked < self.every_ms:
            return False
        self.marks[actor] = now_ms
        self.marks.move_to_end(actor)
        if len(self.marks) > self.capacity:
            self.marks.popitem(last=False)
        return True

    def forget(self, actor: Actor) -> None:
        """Drop the mark: the sign-in could not be recorded now, so the next use tries again."""
        self.marks.pop(actor, None)

    def __len__(self) -> int:
        return len(self.marks)
