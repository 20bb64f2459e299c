#!/usr/bin/env bash
# The Python dependency lock: uv.lock (every platform and Python the project
# supports) and, exported from it with hashes, requirements/runtime.txt (what
# ./scripts/demo.sh and the image install) and requirements/test.txt (what
# ./scripts/test.sh installs). pyproject.toml keeps its version ranges; the lock
# holds the exact versions CI proved.
#
#   ./scripts/lock.sh            re-lock after editing pyproject.toml (keeps every
#                                pin that still fits, resolves only what changed)
#   ./scripts/lock.sh --upgrade  move every package to its newest allowed release
#   ./scripts/lock.sh --check    change nothing; fail if pyproject.toml, uv.lock
#                                and requirements/*.txt disagree
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  "" | --upgrade | --check) ;;
  *) echo "usage: $0 [--upgrade|--check]" >&2; exit 2 ;;
esac

# uv itself comes from the lock, hash-checked, into .venv (the test extra has it).
PY="${PYTHON:-python3}"
UV="${UV:-.venv/bin/uv}"
if [ ! -x "$UV" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  pins="$(mktemp)"
  trap 'rm -f "$pins"' EXIT
  .venv/bin/python - "$pins" <<'EOF'
import sys, tomllib
lock = tomllib.load(open("uv.lock", "rb"))
uv = next(p for p in lock["package"] if p["name"] == "uv")
hashes = [f["hash"] for f in uv.get("wheels", [])] + [uv["sdist"]["hash"]]
with open(sys.argv[1], "w") as out:
    out.write(f"uv=={uv['version']} " + " ".join(f"--hash={h}" for h in hashes) + "\n")
EOF
  .venv/bin/python -m pip install -q --require-hashes -r "$pins"
fi

export UV_PYTHON_DOWNLOADS=never
requirements() {  # uv export options; prints the requirements file
  echo "# Exported from uv.lock by ./scripts/lock.sh: do not edit by hand."
  "$UV" export --quiet --frozen --format requirements-txt --no-header --no-emit-project \
    --group build "$@"
}

refresh_hint="refresh it with ./scripts/lock.sh (commit uv.lock and requirements/*.txt)"
if [ "$mode" = "--check" ]; then
  if ! "$UV" lock --check --offline --quiet 2>/dev/null; then
    echo "uv.lock does not match pyproject.toml: $refresh_hint" >&2
    exit 1
  fi
  if ! cmp -s <(requirements) requirements/runtime.txt \
    || ! cmp -s <(requirements --extra test) requirements/test.txt; then
    echo "requirements/*.txt do not match uv.lock: $refresh_hint" >&2
    exit 1
  fi
  exit 0
fi

if [ "$mode" = "--upgrade" ]; then
  "$UV" lock --upgrade
else
  "$UV" lock
fi
mkdir -p requirements
requirements >requirements/runtime.txt
requirements --extra test >requirements/test.txt
echo "locked: uv.lock, requirements/runtime.txt, requirements/test.txt" >&2
