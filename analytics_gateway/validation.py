"""Validation of incoming metric points, with per-batch caches.

Names and label sets repeat heavily inside a batch (a Telegraf flush is a few
series times many fields), so each distinct name and label set is checked and
canonicalised once per batch, not once per point. The metric name rule itself
lives in `analytics_gateway.names`, shared with the expression grammar.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics_gateway.config import Limits
from analytics_gateway.domain import canonical_labels
from analytics_gateway.names import NAME_RE as NAME_RE  # the one metric name rule
from analytics_gateway.names import NAME_RULE as NAME_RULE

LABEL_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")

_EMPTY: Mapping[str, str] = {}
_EMPTY_KEY = canonical_labels({})


class PointValidator:
    """Checks one batch's points; raises `ValueError` with a user-facing reason."""

    def __init__(self, limits: Limits, now_ms: int) -> None:
        self._limits = limits
        self._now = now_ms
        self._latest = now_ms + limits.max_future_seconds * 1000
        self._names: dict[str, str | None] = {}
        self._label_sets: dict[Hashable, tuple[Mapping[str, str], str] | str] = {}

    def name(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise ValueError(f"invalid metric name {raw!r}: {NAME_RULE}")
        known = self._names.get(raw, "")
        if known is None:
            return raw
        if known == "":
            known = None if NAME_RE.match(raw) else f"invalid metric name {raw!r}: {NAME_RULE}"
            self._names[raw] = known
        if known is not None:
            raise ValueError(known)
        return raw

    def value(self, raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("value must be a number")
        if not math.isfinite(raw):
            raise ValueError("value must be finite (NaN and infinity are refused)")
        return float(raw)

    @property
    def now_ms(self) -> int:
        return self._now

    def timestamps_ok(
        self, timestamps: Sequence[int] | npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Vectorised bounds check; `timestamp()` tells why one is out of bounds."""
        column = np.asarray(timestamps, dtype=np.int64)
        return (column >= 0) & (column <= self._latest)

    def timestamp(self, raw: Any) -> int:
        if raw is None:
            return self._now
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise ValueError("timestamp must be epoch milliseconds or an ISO-8601 date-time")
        ts = int(raw)
        if ts < 0:
            raise ValueError("timestamp is before 1970")
        if ts > self._latest:
            raise ValueError(
                f"timestamp is more than {self._limits.max_future_seconds}s in the future"
            )
        return ts

    def labels(self, raw: Any, cache_key: Hashable | None = None) -> tuple[Mapping[str, str], str]:
        """The checked labels and their canonical text; `cache_key` identifies `raw`."""
        if raw is None:
            return _EMPTY, _EMPTY_KEY
        if cache_key is None and isinstance(raw, dict):
            try:
                cache_key = tuple(raw.items())
                hash(cache_key)
            except TypeError:
                cache_key = None
        if cache_key is not None:
            cached = self._label_sets.get(cache_key)
            if cached is None:
                try:
                    cached = self._check_labels(raw)
                except ValueError as exc:
                    cached = str(exc)
                self._label_sets[cache_key] = cached
            if isinstance(cached, str):
                raise ValueError(cached)
            return cached
        return self._check_labels(raw)

    def _check_labels(self, raw: Any) -> tuple[Mapping[str, str], str]:
        limits = self._limits
        if not isinstance(raw, Mapping):
            raise ValueError("labels must be an object of label name to string value")
        if len(raw) > limits.max_labels:
            raise ValueError(f"too many labels ({len(raw)} > {limits.max_labels})")
        labels: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(key, str) or not LABEL_KEY_RE.match(key):
                raise ValueError(f"invalid label name {key!r}")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError(f"label {key!r} must be a string")
            text = value if isinstance(value, str) else str(value)
            if len(text) > limits.max_label_length:
                raise ValueError(
                    f"label {key!r} is longer than {limits.max_label_length} characters"
                )
            labels[key] = text
        return labels, canonical_labels(labels)
