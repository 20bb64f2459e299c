"""GraphQL types for application events."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="An application event, e.g. a song_play with its metadata.")
class Event:
    id: strawberry.ID = strawberry.field(description="Event id, assigned at ingest.")
    type: str = strawberry.field(description="Event type, e.g. song_play.")
    user_id: str | None = strawberry.field(description="The end user the event is about.")
    timestamp: datetime = strawberry.field(description="When it happened (UTC).")
    metadata: JSON = strawberry.field(description="Free-form details (song_id, duration...).")
    cursor: str | None = strawberry.field(
        default=None,
        description="Position in the live stream (subscriptions only): pass it as `since` "
        "to resume right after this event.",
    )


@strawberry.type(description="An event and the cursor that points at it.")
class EventEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this event.")
    node: Event = strawberry.field(description="The event.")


@strawberry.type(description="Pagination state.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more events follow.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="A page of events, newest first.")
class EventConnection:
    edges: list[EventEdge] = strawberry.field(description="Events on this page with cursors.")
    page_info: PageInfo = strawberry.field(description="Whether and where to continue.")

    @strawberry.field(description="The events on this page, without cursors.")
    def nodes(self) -> list[Event]:
        return [edge.node for edge in self.edges]


@strawberry.input(description="Which events to read.")
class EventFilter:
    type: str | None = strawberry.field(default=None, description="Only this event type.")
    user_id: str | None = strawberry.field(default=None, description="Only this user's events.")
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Range start (inclusive)."
    )
    to: datetime | None = strawberry.field(default=None, description="Range end (exclusive).")
    last: str | None = strawberry.field(
        default=None, description='Relative range ending now, e.g. "24h".'
    )
