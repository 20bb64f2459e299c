"""The dependency lock agrees with pyproject.toml, and the check says how to refresh it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "lock.sh"), "--check"],
        cwd=root,
        env={**os.environ, "UV": str(UV)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """What the check reads, in a scratch directory."""
    for name in ("pyproject.toml", "README.md", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("requirements", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_the_lock_matches_pyproject() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


def test_a_changed_version_without_a_refreshed_lock_fails_and_says_how_to_refresh(
    copy: Path,
) -> None:
    assert check(copy).returncode == 0
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    changed = re.sub(r'"redis>=[^"]+"', '"redis>=99"', text)
    assert changed != text
    pyproject.write_text(changed)
    result = check(copy)
    assert result.returncode == 1
    assert "uv.lock does not match pyproject.toml" in result.stderr
    assert "./scripts/lock.sh" in result.stderr


def test_a_hand_edited_requirements_file_fails(copy: Path) -> None:
    requirements = copy / "requirements" / "test.txt"
    text = requirements.read_text()
    edited = re.sub(r"^redis==\S+", "redis==5.0.0", text, flags=re.MULTILINE)
    assert edited != text
    requirements.write_text(edited)
    result = check(copy)
    assert result.returncode == 1
    assert "do not match uv.lock" in result.stderr


def test_the_web_ui_installs_only_from_its_lock() -> None:
    """`npm ci` (package-lock.json, refused when it disagrees with package.json) or nothing."""
    assert (ROOT / "frontend" / "package-lock.json").exists()
    sources = [ROOT / "Dockerfile", *sorted((ROOT / "scripts").glob("*.sh"))]
    commands = [
        match.group(1)
        for source in sources
        # an npm command starts a line, a RUN, a quoted hint or follows &&
        for match in re.finditer(r"(?m)(?:^|RUN|&&|')\s*npm\s+([a-z-]+)", source.read_text())
    ]
    assert "ci" in commands
    assert set(commands) <= {"ci", "run"}, commands
