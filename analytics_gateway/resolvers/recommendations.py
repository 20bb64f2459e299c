"""Resolvers for `recommendations` and `similarItems`: authorise, check, call the service."""

from __future__ import annotations

from analytics_gateway.context import Info
from analytics_gateway.domain import Principal, Scope
from analytics_gateway.errors import BadUserInput
from analytics_gateway.ml.recommender_service import Recommendations
from analytics_gateway.services import Services

MAX_FIRST = 100
MAX_ID_LENGTH = 256


def _first(first: int) -> int:
    if not 0 < first <= MAX_FIRST:
        raise BadUserInput(f"first: must be from 1 to {MAX_FIRST}", field="first")
    return first


def _id(value: str, field: str) -> str:
    if not 0 < len(value) <= MAX_ID_LENGTH:
        raise BadUserInput(f"{field}: must be 1 to {MAX_ID_LENGTH} characters", field=field)
    return value


async def resolve_recommendations(
    info: Info, user_id: str, first: int, exclude_played: bool
) -> Recommendations:
    principal = info.context.require(Scope.READ)
    return await recommend(principal, info.context.services, user_id, first, exclude_played)


async def recommend(
    principal: Principal, services: Services, user_id: str, first: int, exclude_played: bool
) -> Recommendations:
    """`recommendations` for an authorised caller (GraphQL and REST)."""
    # the model knows users by the id ingest stored (a pseudonym when that is on)
    stored = services.privacy.pseudonyms.stored_or_none(principal.tenant, _id(user_id, "userId"))
    return await services.ml.recommender.recommend(
        principal.tenant, stored, _first(first), exclude_played
    )


async def resolve_similar_items(info: Info, item_id: str, first: int) -> list[tuple[str, float]]:
    principal = info.context.require(Scope.READ)
    return await similar_items(principal, info.context.services, item_id, first)


async def similar_items(
    principal: Principal, services: Services, item_id: str, first: int
) -> list[tuple[str, float]]:
    """`similarItems` for an authorised caller (GraphQL and REST)."""
    return await services.ml.recommender.similar(
        principal.tenant, _id(item_id, "itemId"), _first(first)
    )
