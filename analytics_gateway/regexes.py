"""Regular expressions that tenants write: RE2, bounded, compiled once.

Label matchers (`=~`, `!~`) in alert conditions and silences are tenants'
text run against every label value of a series. Python's `re` backtracks:
`(a+)+` against 25 `a`s and a `!` takes seconds, on the event loop that
serves every tenant. RE2 (Google's, through `google-re2`) matches in time
linear in the input whatever the pattern, at the price of no backreferences
and no lookaround; such patterns are refused with a clear error, as are
patterns longer than `MAX_PATTERN_LENGTH` or needing more than `MAX_MEMORY`
to compile. The stores run matchers with RE2 too (DuckDB, InfluxDB,
Prometheus), so a pattern means the same everywhere.
"""

from __future__ import annotations

import functools
from typing import Any

import re2  # type: ignore[import-untyped]

from analytics_gateway.errors import BadUserInput

MAX_PATTERN_LENGTH = 256
MAX_MEMORY = 1 << 20
CACHED = 4096


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # refusals are reported to the caller, not logged by RE2
    options.max_mem = MAX_MEMORY
    return options


_OPTIONS = _options()


class PatternError(BadUserInput):
    """A tenant's pattern RE2 will not run; the message says why."""


@functools.lru_cache(maxsize=CACHED)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def compile_pattern(pattern: str, field: str = "pattern") -> Any:
    """The compiled pattern, or `PatternError` naming the field and the rule."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"{field}: a regular expression may have at most {MAX_PATTERN_LENGTH} characters",
            field=field,
        )
    try:
        return _compiled(pattern)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"{field}: invalid regular expression {pattern!r}: {detail} (RE2 syntax: no "
            "backreferences or lookaround)",
            field=field,
        ) from None


def full_match(pattern: str, value: str) -> bool:
    """Whether the whole of `value` matches; in time linear in `value`."""
    return compile_pattern(pattern).fullmatch(value) is not None
