"""The demo command installs and builds the web UI only when `frontend/` changed.

`scripts/build-ui.sh` runs for real, in a copy of the repository's `frontend/`,
with a stand-in `npm` first on the PATH that records each call and leaves what
the real one would (a fresh `node_modules`, a fresh build), so each test reads
which steps a run decided to take.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_UI = ROOT / "scripts" / "build-ui.sh"
DEMO = ROOT / "scripts" / "demo.sh"
INSTALL = "ci"
BUILD = "run build"

# Stands in for npm: logs its arguments, and on `ci` / `run build` empties and
# refills node_modules / the build's directory, as npm and Vite (emptyOutDir) do.
FAKE_NPM = """#!/usr/bin/env bash
set -eu
printf '%s\\n' "$*" >>"$FAKE_NPM_LOG"
case "$*" in
  ci\\ *)
    rm -rf frontend/node_modules
    mkdir -p frontend/node_modules/vite
    ;;
  run\\ build\\ *)
    if [ -n "${FAKE_NPM_FAIL:-}" ]; then echo "build failed" >&2; exit 1; fi
    rm -rf analytics_gateway/web/dist
    mkdir -p analytics_gateway/web/dist
    echo '<!doctype html>' >analytics_gateway/web/dist/index.html
    echo '<!doctype html>' >analytics_gateway/web/dist/graphiql.html
    ;;
esac
"""


class Checkout:
    """A copy of the scripts and the frontend's own files, and a way to run the build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "npm.log"
        (root / "scripts").mkdir(parents=True)
        shutil.copy2(BUILD_UI, root / "scripts" / BUILD_UI.name)
        shutil.copytree(
            ROOT / "frontend",
            root / "frontend",
            ignore=shutil.ignore_patterns("node_modules"),
        )
        (root / "analytics_gateway" / "web").mkdir(parents=True)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        npm = bin_dir / "npm"
        npm.write_text(FAKE_NPM, encoding="utf-8")
        npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_NPM_LOG": str(self.log),
        }

    @property
    def dist(self) -> Path:
        return self.root / "analytics_gateway" / "web" / "dist"

    def run(self, *args: str, fail: bool = False) -> list[str]:
        """Run the build script; the npm steps it took (`ci`, `run build`), in order."""
        self.log.write_text("", encoding="utf-8")
        env = dict(self.env, FAKE_NPM_FAIL="1") if fail else self.env
        result = subprocess.run(
            ["bash", str(self.root / "scripts" / BUILD_UI.name), *args],
            cwd=self.root / "frontend",  # the script finds the repository itself
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if fail:
            assert result.returncode != 0, "a failed build must fail the script"
        else:
            assert result.returncode == 0, result.stdout + result.stderr
        steps = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            step = INSTALL if line.startswith("ci ") else BUILD if line.startswith(BUILD) else line
            assert "--prefix frontend" in line, line
            steps.append(step)
        return steps


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path / "repo")


def test_first_run_installs_then_builds(checkout: Checkout) -> None:
    assert checkout.run() == [INSTALL, BUILD]
    assert (checkout.dist / "index.html").is_file()


def test_nothing_changed_skips_both_steps(checkout: Checkout) -> None:
    checkout.run()
    assert checkout.run() == []
    assert checkout.run() == []


def test_a_changed_source_rebuilds_without_reinstalling(checkout: Checkout) -> None:
    checkout.run()
    source = checkout.root / "frontend" / "src" / "main.js"
    source.write_text(source.read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8")
    assert checkout.run() == [BUILD]
    assert checkout.run() == []


@pytest.mark.parametrize(
    "path", ["src/widgets/new-widget.js", "public/robots.txt", "index.html", "vite.config.js"]
)
def test_a_new_or_edited_frontend_file_rebuilds(checkout: Checkout, path: str) -> None:
    checkout.run()
    target = checkout.root / "frontend" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as f:
        f.write("\n")
    assert checkout.run() == [BUILD]


def test_a_renamed_source_rebuilds(checkout: Checkout) -> None:
    checkout.run()
    src = checkout.root / "frontend" / "src"
    (src / "format.js").rename(src / "formatting.js")
    assert checkout.run() == [BUILD]


@pytest.mark.parametrize("name", ["package-lock.json", "package.json"])
def test_changed_dependencies_reinstall_and_rebuild(checkout: Checkout, name: str) -> None:
    checkout.run()
    manifest = checkout.root / "frontend" / name
    manifest.write_text(manifest.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert checkout.run() == [INSTALL, BUILD]
    assert checkout.run() == []


def test_a_missing_install_or_build_is_made_again(checkout: Checkout) -> None:
    checkout.run()
    (checkout.dist / "index.html").unlink()
    assert checkout.run() == [BUILD]
    shutil.rmtree(checkout.root / "frontend" / "node_modules")
    assert checkout.run() == [INSTALL, BUILD]


def test_a_failed_build_is_tried_again(checkout: Checkout) -> None:
    checkout.run()
    source = checkout.root / "frontend" / "src" / "api.js"
    source.write_text(source.read_text(encoding="utf-8") + "\n// broken\n", encoding="utf-8")
    checkout.run(fail=True)
    # the pages of the previous build may still be there: the stamp decides
    assert checkout.run() == [BUILD]
    assert checkout.run() == []


def test_force_runs_both_steps(checkout: Checkout) -> None:
    checkout.run()
    assert checkout.run("--force") == [INSTALL, BUILD]
    assert checkout.run() == []


def test_the_demo_builds_the_ui_through_the_script() -> None:
    lines = [
        line.strip()
        for line in DEMO.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "scripts/build-ui.sh" in lines
    # no unconditional npm step left beside it (the hint for a missing Node.js aside)
    assert not [line for line in lines if re.match(r"npm\b", line)]
