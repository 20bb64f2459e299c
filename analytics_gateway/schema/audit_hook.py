"""Every root mutation field records an audit entry, whatever its outcome.

`record_mutations(schema)` wraps the resolver of each field of the built schema's
Mutation type once, when the schema is built: mutations added later are covered
without being listed, and queries pay nothing (a `SchemaExtension.resolve` hook
would run for every field of every query). The wrapper sees exactly which root
fields ran (a failed non-null field stops the ones after it) and how each ended:
`ok`, the code of the error it raised, or CANCELLED when it was stopped before it
finished (the request's deadline, where the client saw REQUEST_TIMEOUT, or a
closed WebSocket). It records the caller, the tenant, the field name, the request
id and the target id (an `id` or `...Id` argument), never another argument's value;
a `userId` is personal data, not a target (an erasure records its own entry).

A document refused before execution (parse, validation, variables) ran no field
and records nothing.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLResolveInfo

from analytics_gateway.audit.chain import OK
from analytics_gateway.errors import GatewayError
from analytics_gateway.observability import correlation_id

_WRAPPED = "__audited__"
ANONYMOUS = "anonymous"
CANCELLED = "CANCELLED"
PERSONAL = frozenset({"userId"})


def outcome_of(error: BaseException) -> str:
    """The code the client will see for `error` (unexpected ones are masked as internal)."""
    if isinstance(error, GatewayError):
        return error.code
    if isinstance(error, GraphQLError):
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return code
        if isinstance(error.original_error, GatewayError):
            return error.original_error.code
    return "INTERNAL_SERVER_ERROR"


def target_of(arguments: dict[str, Any]) -> str:
    """The id the mutation acts on: its `id` argument, else the first `...Id` one other
    than a `userId` (an end user's id is personal data)."""
    value = arguments.get("id")
    if value is None:
        value = next(
            (
                v
                for name, v in arguments.items()
                if name.endswith("Id") and name not in PERSONAL and v is not None
            ),
            None,
        )
    return value if isinstance(value, str) else ""


async def _record(info: GraphQLResolveInfo[Any], arguments: dict[str, Any], outcome: str) -> None:
    context = info.context
    trail = getattr(getattr(context, "services", None), "audit", None)
    if trail is None:  # a schema executed outside the app (tests of the schema alone)
        return
    principal = getattr(context, "principal", None)
    if principal is None:
        tenant, actor = context.services.settings.self_tenant, ANONYMOUS
    else:
        tenant, actor = principal.tenant, principal.actor
    await trail.record(
        tenant=tenant,
        actor=actor,
        action=info.field_name,
        target=target_of(arguments),
        request_id=correlation_id.get(),
        outcome=outcome,
    )


def _audited(resolve: Callable[..., Any]) -> Callable[..., Any]:
    async def resolve_and_record(root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        try:
            result = resolve(root, info, **arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            await _record(info, arguments, outcome_of(error))
            raise
        except asyncio.CancelledError:  # the request's deadline, or its connection closed
            await asyncio.shield(_record(info, arguments, CANCELLED))
            raise
        await _record(info, arguments, OK)
        return result

    setattr(resolve_and_record, _WRAPPED, True)
    return resolve_and_record


def record_mutations(schema: strawberry.Schema) -> strawberry.Schema:
    """`schema`, each of whose root mutation fields now records its audit entry."""
    mutation = schema._schema.mutation_type
    for field in mutation.fields.values() if mutation is not None else ():
        if field.resolve is not None and not getattr(field.resolve, _WRAPPED, False):
            field.resolve = _audited(field.resolve)
    return schema
