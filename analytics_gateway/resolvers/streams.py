"""Subscription resolvers: tenant-scoped channels, filtered per subscriber.

With `since`, a subscriber first gets what it missed from the channel's
history, then live messages, with no gap and no repeat: it starts listening
before it reads the history and skips live messages the replay already gave.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

from strawberry.scalars import JSON

from analytics_gateway import tracing
from analytics_gateway.backends.message_ids import parse_message_id
from analytics_gateway.context import Info
from analytics_gateway.domain import Scope
from analytics_gateway.inputs import label_filter, metric_name
from analytics_gateway.schema.events import Event
from analytics_gateway.schema.metrics import MetricPoint, to_datetime
from analytics_gateway.subscriptions.channels import channel_kind, events_channel, metric_channel
from analytics_gateway.subscriptions.cursors import cursor, parse_cursor
from analytics_gateway.subscriptions.hub import Hub

# one live message in this many is traced, from its turn in the queue until the
# subscriber has sent it and asks for the next: deliveries are too many to trace all
TRACE_EVERY = 100
_delivered = itertools.count()


async def messages(
    hub: Hub, channel: str, since: str | None, labels: Mapping[str, str] | None = None
) -> AsyncGenerator[tuple[str, Any, int], None]:
    """`(message_id, message, first item index to deliver)`, replay first when asked.

    Live messages are paced by the hub's fan-out budget; with `labels`, a metric
    channel hands over only messages with a series carrying them.
    """
    after = parse_cursor(since) if since is not None else None
    kind = channel_kind(channel)
    async with hub.listen(channel, labels=labels, paced=True) as queue:
        last = None
        if after is not None:
            (ms, seq), index = after
            for message_id, message in await hub.history(channel, f"{ms}-{seq}"):
                yield message_id, message, (index + 1 if last is None else 0)
                last = parse_message_id(message_id)
        async for message_id, message in queue:
            if last is not None and parse_message_id(message_id) <= last:
                continue
            if not tracing.enabled() or next(_delivered) % TRACE_EVERY:
                yield message_id, message, 0
                continue
            with tracing.span(
                "subscription delivery",
                {"messaging.destination.kind": kind},
                kind=tracing.SpanKind.PRODUCER,
            ):
                yield message_id, message, 0


async def subscribe_metric_points(
    info: Info, name: str, labels: JSON | None, since: str | None = None
) -> AsyncGenerator[MetricPoint, None]:
    principal = info.context.require(Scope.READ)
    wanted = label_filter(labels)
    channel = metric_channel(principal.tenant, metric_name(name))
    hub = info.context.services.hub
    async for message_id, message, start in messages(hub, channel, since, dict(wanted)):
        index = -1
        for series in message["series"]:
            point_labels = series["labels"]
            if not all(point_labels.get(k) == v for k, v in wanted):
                index += len(series["t"])  # cursors count every point of the message
                continue
            for ts, value in zip(series["t"], series["v"], strict=True):
                index += 1
                if index >= start:
                    yield MetricPoint(
                        name=message["name"],
                        labels=point_labels,
                        timestamp=to_datetime(ts),
                        value=value,
                        cursor=cursor(message_id, index),
                    )


async def subscribe_live_events(
    info: Info, type: str | None, since: str | None = None
) -> AsyncGenerator[Event, None]:
    principal = info.context.require(Scope.READ)
    channel = events_channel(principal.tenant)
    sensitive = info.context.services.privacy.sensitive  # messages carry sealed values
    async for message_id, batch, start in messages(info.context.services.hub, channel, since):
        for index, item in enumerate(batch):
            if index >= start and (type is None or item["type"] == type):
                yield Event(
                    id=item["id"],
                    type=item["type"],
                    user_id=item["userId"],
                    timestamp=to_datetime(item["t"]),
                    metadata=cast(JSON, sensitive.open_message(principal.tenant, item["metadata"])),
                    cursor=cursor(message_id, index),
                )
