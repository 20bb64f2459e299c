"""Regenerate the typed GraphQL layer, `analytics_gateway_client.generated`.

    python scripts/generate.py                  # rewrite src/analytics_gateway_client/generated
    python scripts/generate.py --check          # exit 1, with a diff, when it is out of date
    python scripts/generate.py --output DIR     # generate DIR/generated, leave the tree alone

Inputs: the gateway's `schema.graphql` (at the repository root), the operations in
`operations/*.graphql` and `[tool.ariadne-codegen]` in this package's pyproject.toml.
ariadne-codegen pins graphql-core and ruff releases the gateway cannot share, so it
runs in an environment of its own, installed hash-checked from
`codegen-requirements.txt` (with uv when there is one, else venv and pip) into
`$XDG_CACHE_HOME/analytics-gateway-client/` and reused while that file is unchanged.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parent.parent
REQUIREMENTS = CLIENT_DIR / "codegen-requirements.txt"
PACKAGE_DIR = CLIENT_DIR / "src" / "analytics_gateway_client"
SCRIPTS_DIR = CLIENT_DIR / "scripts"
PLUGIN = "codegen_plugin"


def cache_home() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "analytics-gateway-client"


def generator_env() -> Path:
    """The generator's environment (made on first use): its `bin` directory."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    env = cache_home() / f"codegen-{digest}"
    bin_dir = env / "bin"
    if (bin_dir / "ariadne-codegen").exists():
        return bin_dir
    shutil.rmtree(env, ignore_errors=True)
    env.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    requirements = ["--require-hashes", "-r", str(REQUIREMENTS)]
    if uv:
        run([uv, "venv", "--quiet", "--python", sys.executable, str(env)])
        run([uv, "pip", "install", "--quiet", "--python", str(bin_dir / "python"), *requirements])
    else:
        run([sys.executable, "-m", "venv", str(env)])
        run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *requirements])
    return bin_dir


def run(
    command: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> None:
    result = subprocess.run(  # noqa: S603 - commands built here, from fixed parts
        command, cwd=cwd, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"unsupported value in [tool.ariadne-codegen]: {value!r}")


def toml_table(name: str, table: Mapping[str, object]) -> str:
    """`table` as TOML, sub-tables after its own keys (all the codegen section needs)."""
    lines = [f"[{name}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append(toml_table(f'{name}."{key}"', value))
        else:
            lines.append(f'"{key}" = {toml_value(value)}')
    return "\n".join(["\n".join(lines), *nested]) + "\n"


def generate(output: Path) -> Path:
    """Generate the package into `output`/generated; returns that directory."""
    config = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())
    section = dict(config["tool"]["ariadne-codegen"])
    section["target_package_path"] = str(output)
    section["plugins"] = [PLUGIN]
    output.mkdir(parents=True, exist_ok=True)
    target = output / str(section["target_package_name"])
    shutil.rmtree(target, ignore_errors=True)
    bin_dir = generator_env()
    with tempfile.TemporaryDirectory() as scratch:
        config_path = Path(scratch) / "codegen.toml"
        config_path.write_text(toml_table('tool."ariadne-codegen"', section))
        # relative paths in the section are relative to this package's directory
        env = {**os.environ, "PYTHONPATH": str(SCRIPTS_DIR)}
        # ruff, which the generator runs, must be the generator's own
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        run([str(bin_dir / "ariadne-codegen"), "--config", str(config_path)], CLIENT_DIR, env)
    return target


def differences(expected: Path, actual: Path) -> list[str]:
    """Unified diffs between two generated packages (files missing on one side included)."""
    names = sorted({p.name for p in expected.glob("*.py")} | {p.name for p in actual.glob("*.py")})
    lines: list[str] = []
    for name in names:
        lines += difflib.unified_diff(
            _lines(actual / name), _lines(expected / name), f"tree/{name}", f"regenerated/{name}"
        )
    return lines


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True) if path.exists() else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the tree is out of date")
    parser.add_argument("--output", type=Path, help="generate DIR/generated instead")
    args = parser.parse_args(argv)
    if args.output is not None:
        print(generate(args.output.resolve()))
        return 0
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            fresh = generate(Path(scratch))
            diff = differences(fresh, PACKAGE_DIR / fresh.name)
        if diff:
            sys.stdout.writelines(diff)
            print("\nthe generated client is out of date: run `python scripts/generate.py`")
            return 1
        print("the generated client is up to date")
        return 0
    print(generate(PACKAGE_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
