"""Recommendation types and root fields (a base of the root Query)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from analytics_gateway.context import Info
from analytics_gateway.resolvers import recommendations as resolvers


@strawberry.enum(description="Items to leave out of recommendations.")
class RecommendationExclude(Enum):
    PLAYED = strawberry.enum_value(
        "played", description="Items the user already played (in training data or since)."
    )


@strawberry.type(description="One recommended item.")
class RecommendedItem:
    item_id: str = strawberry.field(description="The item (e.g. the song_id of the events).")
    score: float = strawberry.field(
        description="Higher is better; comparable only within one answer. Popularity "
        "answers give the share of users who played the item."
    )


@strawberry.type(description="Recommendations for one user.")
class Recommendations:
    items: list[RecommendedItem] = strawberry.field(description="Best first.")
    personalised: bool = strawberry.field(
        description="False when the model did not know the user well enough (unknown user or "
        "too few plays) and the most popular items were given instead."
    )
    model_id: strawberry.ID = strawberry.field(description="The RECOMMENDER model that answered.")


def _items(found: list[tuple[str, float]]) -> list[RecommendedItem]:
    return [RecommendedItem(item_id=i, score=s) for i, s in found]


@strawberry.type(description="Recommendations from the tenant's newest RECOMMENDER model.")
class RecommendationQuery:
    @strawberry.field(
        description="Items for a user from the tenant's newest RECOMMENDER model (see "
        "trainModel); the most popular items for users it does not know. NOT_FOUND when the "
        "tenant has no such model."
    )
    async def recommendations(
        self,
        info: Info,
        user_id: Annotated[str, strawberry.argument(description="The user, as in events.")],
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
        exclude: Annotated[
            list[RecommendationExclude] | None,
            strawberry.argument(description="What to leave out; null: [PLAYED]; [] for none."),
        ] = None,
    ) -> Recommendations | None:
        chosen = [RecommendationExclude.PLAYED] if exclude is None else exclude
        found = await resolvers.resolve_recommendations(
            info, user_id, first, RecommendationExclude.PLAYED in chosen
        )
        return Recommendations(
            items=_items(found.items),
            personalised=found.personalised,
            model_id=strawberry.ID(found.model_id),
        )

    @strawberry.field(
        description="Items most like `itemId` by the tenant's newest RECOMMENDER model; empty "
        "for an item it does not know."
    )
    async def similar_items(
        self,
        info: Info,
        item_id: Annotated[str, strawberry.argument(description="The item.")],
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
    ) -> list[RecommendedItem] | None:
        return _items(await resolvers.resolve_similar_items(info, item_id, first))
