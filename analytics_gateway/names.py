"""The metric name rule, in one place: ingest checks it, expressions lex by it.

A metric name starts with a letter, `_` or `:` and goes on with letters,
digits, `_`, `:`, `.` and `-`, at most 200 characters: `cpu_usage`,
`http-errors`, `node:load1.5m`.

Because a name may contain `-`, an expression (an alert condition or a
dashboard formula, see `analytics_gateway.grammar`) reads `a-b` as the metric
`a-b`: subtraction after a name needs a space before the minus sign (`a - b`,
`a -b`). A name ending in `-` is refused there with a message saying so, since
`a- b` almost always means `a - b`; such names can be ingested but not
referred to in an expression.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 200

NAME_START = "A-Za-z_:"
"""The characters a name may start with, as the body of a regex character class."""

NAME_CHARS = r"A-Za-z0-9_:.\-"
"""The characters a name may go on with, as the body of a regex character class."""

NAME_RE = re.compile(rf"^[{NAME_START}][{NAME_CHARS}]{{0,{MAX_NAME_LENGTH - 1}}}$")

NAME_RULE = (
    "use letters, digits, '_', ':', '.', '-' (starting with a letter, '_' or ':'), "
    f"at most {MAX_NAME_LENGTH} characters"
)

SUBTRACTION_HINT = "names may contain '-', so write subtraction with spaces (a - b)"
"""What expression errors add when a '-' was probably meant as a minus sign."""

__all__ = [
    "MAX_NAME_LENGTH",
    "NAME_CHARS",
    "NAME_RE",
    "NAME_RULE",
    "NAME_START",
    "SUBTRACTION_HINT",
]
