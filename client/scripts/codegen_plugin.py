"""An ariadne-codegen plugin, loaded by `generate.py` in the generator's own environment.

The generated base client imports `websockets` inside `try/except ImportError` with
untyped stand-ins for when it is missing. This package requires `websockets`, and
`mypy --strict` refuses those stand-ins, so the plugin keeps just the imports.
"""

from __future__ import annotations

from ariadne_codegen.plugins.base import Plugin

IMPORTS = (
    "from websockets import ClientConnection\n"
    "from websockets import connect as ws_connect\n"
    "from websockets.typing import Data, Origin, Subprotocol\n"
)


def without_import_fallback(code: str) -> str:
    """`code` with its `try: from websockets import ... except ImportError: ...` replaced
    by plain imports; unchanged when it has no such block."""
    lines = code.splitlines(keepends=True)
    try:
        start = lines.index("try:\n")
    except ValueError:
        return code
    if not lines[start + 1].lstrip().startswith("from websockets import"):
        return code
    handler = lines.index("except ImportError:\n", start)
    end = handler + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or lines[end] == "\n"):
        end += 1
    return "".join(lines[:start]) + IMPORTS + "\n\n" + "".join(lines[end:])


class RequireWebsockets(Plugin):
    def copy_code(self, copied_code: str) -> str:
        return without_import_fallback(copied_code)
