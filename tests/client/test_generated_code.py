"""The generated GraphQL layer in the tree is what the generator makes of the schema and
the operations today, and the package exports what it says it does."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import analytics_gateway_client

CLIENT = Path(__file__).resolve().parents[2] / "client"
GENERATED = CLIENT / "src" / "analytics_gateway_client" / "generated"


def _sources(package: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(package.glob("*.py"))}


def test_the_generated_client_is_up_to_date(tmp_path: Path) -> None:
    """Regenerates into a temp dir (the generator's pinned environment is made on
    first use, from PyPI) and compares file by file."""
    result = subprocess.run(
        [sys.executable, str(CLIENT / "scripts" / "generate.py"), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh, tree = _sources(tmp_path / "generated"), _sources(GENERATED)
    diff = "".join(
        line
        for name in sorted(fresh.keys() | tree.keys())
        for line in difflib.unified_diff(
            tree.get(name, "").splitlines(keepends=True),
            fresh.get(name, "").splitlines(keepends=True),
            f"tree/{name}",
            f"regenerated/{name}",
        )
    )
    assert not diff, f"run `python client/scripts/generate.py` and commit the result:\n{diff}"


def test_every_exported_name_exists() -> None:
    names = analytics_gateway_client.__all__
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(analytics_gateway_client, name)]
    assert missing == []
