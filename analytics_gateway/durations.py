"""Durations as users write them: `30s`, `5m`, `1h`, `7d`, `500ms`, `2w`."""

from __future__ import annotations

import math
import re

from analytics_gateway.errors import BadUserInput, quote_input

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)\s*$")
# a century: as nanoseconds, still inside the int64 every store keeps time in
MAX_DURATION_MS = 36_500 * 86_400_000


def parse_duration_ms(text: str, *, field: str = "duration") -> int:
    """Return the duration in milliseconds, or raise `BadUserInput` naming the field."""
    match = _PATTERN.match(text)
    if not match:
        raise BadUserInput(
            f"{field}: {text!r} is not a duration; use a number and a unit "
            "(ms, s, m, h, d, w), e.g. '30s', '5m', '1h', '7d'",
            field=field,
        )
    value = float(match.group(1)) * _UNITS_MS[match.group(2)]
    if value <= 0:
        raise BadUserInput(f"{field}: duration must be positive", field=field)
    if value < 1:
        raise BadUserInput(f"{field}: {text!r} is shorter than 1ms, the finest step", field=field)
    if not math.isfinite(value) or value > MAX_DURATION_MS:
        raise BadUserInput(
            f"{field}: {quote_input(text)} is longer than the 36500d (100 years) allowed",
            field=field,
        )
    return int(value)
