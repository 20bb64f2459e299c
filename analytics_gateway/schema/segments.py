"""User features, segments and churn risk types and root fields (a base of the root Query)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from analytics_gateway.behaviour import features
from analytics_gateway.behaviour.segments import Segment
from analytics_gateway.context import Info
from analytics_gateway.resolvers import segments as resolvers
from analytics_gateway.schema.metrics import to_datetime

_RANGE = (
    "The range defaults to the last 90 days and may span at most 730 days; QUERY_TOO_COMPLEX "
    "when it holds more than 50,000 users."
)


@strawberry.type(description="One user's behaviour over a range, from their events.")
class UserBehaviour:
    user_id: str = strawberry.field(description="The user.")
    recency_days: float = strawberry.field(
        description="Days from the user's last event to the range's end."
    )
    frequency: int = strawberry.field(description="The user's events in the range.")
    active_days: int = strawberry.field(description="Distinct UTC days with an event.")
    tenure_days: float = strawberry.field(
        description="Days from the user's first event in the range to the range's end."
    )
    trend: float = strawberry.field(
        description="(late - early) / (late + early) events, split at the range's middle: "
        "-1 active only in the first half, +1 only in the second."
    )
    event_types: int = strawberry.field(description="Distinct event types.")
    top_type_share: float = strawberry.field(
        description="Share of the user's events of their most frequent type."
    )


def _behaviour(user: features.UserFeatures) -> UserBehaviour:
    return UserBehaviour(
        user_id=user.user_id,
        recency_days=user.recency_days,
        frequency=user.frequency,
        active_days=user.active_days,
        tenure_days=user.tenure_days,
        trend=user.trend,
        event_types=user.event_types,
        top_type_share=user.top_type_share,
    )


@strawberry.type(description="A segment's centroid: the mean of its users' features.")
class SegmentCentroid:
    recency_days: float = strawberry.field(description="Mean days since the last event.")
    frequency: float = strawberry.field(description="Mean events.")
    active_days: float = strawberry.field(description="Mean distinct active days.")
    tenure_days: float = strawberry.field(description="Mean days since the first event.")
    trend: float = strawberry.field(description="Mean trend, -1 to +1.")
    event_types: float = strawberry.field(description="Mean distinct event types.")
    top_type_share: float = strawberry.field(description="Mean share of the top event type.")


@strawberry.type(description="A feature that sets a segment apart from the population.")
class SegmentTrait:
    feature: str = strawberry.field(description='The feature, e.g. "recency_days".')
    z_score: float = strawberry.field(
        description="(segment mean - population mean) / population standard deviation."
    )
    words: str = strawberry.field(description='The trait in words, e.g. "recent".')


@strawberry.type(description="A group of users with similar behaviour.")
class UserSegment:
    id: int = strawberry.field(description="0 for the largest segment, then by size.")
    size: int = strawberry.field(description="Users in it.")
    share: float = strawberry.field(description="`size` divided by all users segmented.")
    centroid: SegmentCentroid = strawberry.field(description="Its users' mean features.")
    traits: list[SegmentTrait] = strawberry.field(
        description="Up to 3 features whose segment mean lies at least 0.5 standard "
        "deviations from the population's, furthest first."
    )
    description: str = strawberry.field(
        description='The traits in words, e.g. "high frequency, recent"; "typical" without any.'
    )
    example_user_ids: list[str] = strawberry.field(description="Some of its users, by id.")


@strawberry.type(description="The users of a range, in segments.")
class UserSegments:
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    users: int = strawberry.field(description="Users with an event in the range.")
    k: int = strawberry.field(description="Segments found.")
    silhouette: float | None = strawberry.field(
        description="Silhouette of the chosen k on a sample of at most 2,000 users, when k "
        "was chosen; null when it was given."
    )
    segments: list[UserSegment] = strawberry.field(description="Largest first.")


@strawberry.type(description="A user's churn risk.")
class ChurnRiskUser:
    user_id: str = strawberry.field(description="The user.")
    probability: float = strawberry.field(
        description="Calibrated probability of no event in the horizon after the range's end."
    )
    features: UserBehaviour = strawberry.field(
        description="The features scored: over the range's last (length - horizon)."
    )


@strawberry.type(description="Mean predicted against observed churn in one probability bin.")
class CalibrationBin:
    lower: float = strawberry.field(description="Bin start (inclusive).")
    upper: float = strawberry.field(description="Bin end (exclusive; 1 inclusive).")
    users: int = strawberry.field(description="Held-out users predicted in the bin.")
    mean_predicted: float = strawberry.field(description="Their mean predicted probability.")
    observed: float = strawberry.field(description="The share of them who churned.")


@strawberry.type(description="How well the churn model did on held-out users.")
class ChurnModelQuality:
    auc: float | None = strawberry.field(
        description="ROC AUC on the held-out users; null when they all share one label."
    )
    brier: float = strawberry.field(description="Brier score on the held-out users.")
    base_rate: float = strawberry.field(description="Share of training users who churned.")
    training_users: int = strawberry.field(description="Users the held-out check trained on.")
    held_out_users: int = strawberry.field(description="Users it was measured on (30%).")
    calibration: list[CalibrationBin] = strawberry.field(
        description="Ten equal-width bins of predicted probability; empty bins left out."
    )


@strawberry.type(description="Users most at risk of churning, and the model's quality.")
class ChurnRisk:
    from_: datetime = strawberry.field(name="from", description="Range start (inclusive).")
    to: datetime = strawberry.field(description="Range end (exclusive).")
    cutoff: datetime = strawberry.field(
        description="to - horizon: training features are taken up to it, labels after it."
    )
    scored_users: int = strawberry.field(
        description="Users with an event in the scoring window [from + horizon, to)."
    )
    users: list[ChurnRiskUser] = strawberry.field(
        description="The `first` scored users most at risk, highest probability first."
    )
    model: ChurnModelQuality = strawberry.field(description="Held-out quality of the model.")


def _segment(s: Segment) -> UserSegment:
    c = dict(zip(features.FEATURES, s.centroid, strict=True))
    return UserSegment(
        id=s.id,
        size=s.size,
        share=s.share,
        centroid=SegmentCentroid(**c),
        traits=[
            SegmentTrait(feature=t.feature, z_score=t.z_score, words=t.words) for t in s.traits
        ],
        description=s.description,
        example_user_ids=s.examples,
    )


@strawberry.type(description="Behaviour segments and churn risk of the caller's tenant's users.")
class SegmentsQuery:
    @strawberry.field(
        description="Each user's behaviour features over the range, by user id. " + _RANGE
    )
    async def user_features(
        self,
        info: Info,
        event_type: Annotated[
            str | None,
            strawberry.argument(description="Only events of this type; null: every type."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="Users, 1 to 1000.")] = 100,
        after: Annotated[
            str | None, strawberry.argument(description="Only users whose id sorts after this.")
        ] = None,
        last: Annotated[
            str | None, strawberry.argument(description='Relative range ending now, e.g. "90d".')
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive).")
        ] = None,
    ) -> list[UserBehaviour] | None:
        found = await resolvers.resolve_user_features(
            info, event_type, first, after, last, from_, to
        )
        return [_behaviour(u) for u in found]

    @strawberry.field(
        description="Users clustered by their behaviour features (k-means on standardised "
        "features, deterministic); each segment described by what sets it apart. Without "
        "`segments`, k from 2 to 8 with the best silhouette. " + _RANGE
    )
    async def user_segments(
        self,
        info: Info,
        event_type: Annotated[
            str | None,
            strawberry.argument(description="Only events of this type; null: every type."),
        ] = None,
        segments: Annotated[
            int | None,
            strawberry.argument(description="Segments to form, 2 to 10; null: chosen."),
        ] = None,
        examples: Annotated[
            int, strawberry.argument(description="Example user ids per segment, 0 to 20.")
        ] = 5,
        last: Annotated[
            str | None, strawberry.argument(description='Relative range ending now, e.g. "90d".')
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive).")
        ] = None,
    ) -> UserSegments | None:
        found = await resolvers.resolve_user_segments(
            info, event_type, segments, examples, last, from_, to
        )
        return UserSegments(
            from_=to_datetime(found.start_ms),
            to=to_datetime(found.end_ms),
            users=found.users,
            k=found.k,
            silhouette=found.silhouette,
            segments=[_segment(s) for s in found.segments],
        )

    @strawberry.field(
        description="Each user's probability of no event in the `horizon` after the range, "
        "from calibrated gradient-boosted trees trained on the tenant's own history: features "
        "up to `to - horizon`, labelled by activity after it. BAD_USER_INPUT (with `reason` "
        "HISTORY_TOO_SHORT or ONE_CLASS) when the range spans less than two horizons, fewer "
        "than 40 users had events before the cutoff, or fewer than 10 of them churned or "
        "stayed. " + _RANGE
    )
    async def churn_risk(
        self,
        info: Info,
        horizon: Annotated[
            str, strawberry.argument(description="Churn means no event for this long, 1d to 180d.")
        ] = "14d",
        event_type: Annotated[
            str | None,
            strawberry.argument(description="Only events of this type count; null: every type."),
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="Users most at risk to list, 1 to 1000.")
        ] = 50,
        last: Annotated[
            str | None, strawberry.argument(description='Relative range ending now, e.g. "90d".')
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Range start (inclusive)."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Range end (exclusive).")
        ] = None,
    ) -> ChurnRisk | None:
        found = await resolvers.resolve_churn_risk(
            info, horizon, event_type, first, last, from_, to
        )
        fit = found.fit
        return ChurnRisk(
            from_=to_datetime(found.start_ms),
            to=to_datetime(found.end_ms),
            cutoff=to_datetime(found.cutoff_ms),
            scored_users=found.scored_users,
            users=[
                ChurnRiskUser(user_id=u.user_id, probability=p, features=_behaviour(u))
                for u, p in found.at_risk
            ],
            model=ChurnModelQuality(
                auc=fit.auc,
                brier=fit.brier,
                base_rate=found.base_rate,
                training_users=fit.training_users,
                held_out_users=fit.held_out_users,
                calibration=[
                    CalibrationBin(
                        lower=b.lower,
                        upper=b.upper,
                        users=b.users,
                        mean_predicted=b.mean_predicted,
                        observed=b.observed,
                    )
                    for b in fit.calibration
                ],
            ),
        )
