"""Custom scalars. `SeriesData` carries bulk points as columns (decision 1)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from analytics_gateway.bulk_json import outgoing

SeriesData = NewType("SeriesData", object)


def _parse_series_data(value: Any) -> Any:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("t"), list)
        or not isinstance(value.get("v"), list)
        or len(value["t"]) != len(value["v"])
    ):
        raise ValueError('SeriesData must be {"t": [epoch ms...], "v": [number...]}, equal lengths')
    return value


SERIES_DATA = strawberry.scalar(
    name="SeriesData",
    description=(
        'A whole series as two parallel columns: {"t": [epoch milliseconds, UTC], '
        '"v": [float]}. t[i] is the timestamp of v[i]; t is ascending. Bulk point data '
        "travels in this form because it is ~30x cheaper to serve than one object per point."
    ),
    serialize=outgoing,
    parse_value=_parse_series_data,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {SeriesData: SERIES_DATA}
