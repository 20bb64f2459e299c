"""`SeriesData`, the gateway's bulk point scalar: a series as two parallel columns.

The gateway sends points as `{"t": [epoch ms...], "v": [float...]}` (one object per
point costs ~30x more to serve); the generated models read that into this class.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict


class SeriesData(BaseModel):
    """Points as columns: `t[i]` (epoch milliseconds, UTC, ascending) is the time of `v[i]`."""

    model_config = ConfigDict(frozen=True)

    t: list[float]
    v: list[float]

    def __len__(self) -> int:
        return len(self.t)

    def points(self) -> list[tuple[datetime, float]]:
        """The points as (UTC datetime, value) pairs."""
        return [
            (datetime.fromtimestamp(ms / 1000, UTC), value)
            for ms, value in zip(self.t, self.v, strict=True)
        ]

    @property
    def last(self) -> float | None:
        """The newest value; None when empty."""
        return self.v[-1] if self.v else None
