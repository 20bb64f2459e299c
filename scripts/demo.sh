#!/usr/bin/env bash
# Install the gateway in ./.venv, build its web UI (dashboards and an offline
# GraphiQL) when Node.js is there, and run it on the embedded stores with a week
# of demo data. Arguments go to `analytics-gateway serve` (e.g. --port 8080).
# The UI's `npm ci` and build run only when frontend/ changed since the last
# time (scripts/build-ui.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# The locked versions (requirements/runtime.txt, hash-checked), then the gateway itself.
.venv/bin/python -m pip install -q --require-hashes -r requirements/runtime.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if command -v npm >/dev/null 2>&1 && [ "$node_major" -ge 20 ]; then
  scripts/build-ui.sh
else
  echo "Node.js 20+ with npm not found: the API and GraphiQL (from a CDN) run, but the" \
    "dashboards need 'npm ci --prefix frontend && npm run build --prefix frontend'" >&2
fi
exec .venv/bin/analytics-gateway serve --demo "$@"
