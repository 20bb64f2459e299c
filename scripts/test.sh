#!/usr/bin/env bash
# Install what the tests need (Debian's redis-server, influxdb, prometheus, chromium,
# Node.js for the web UI build and its checks (lint, GraphQL documents against the
# schema, unit tests), and the locked Python test extras in ./.venv, osmem-server
# and Playwright among them), build the web UI, then run lint, type
# checks and the whole suite; then the end-to-end suite again with every store on
# its production backend (InfluxDB, Elasticsearch API, Redis).
# Arguments go to the first pytest run, and skip the second.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
need=()
for pair in redis-server:redis-server influxd:influxdb prometheus:prometheus \
  chromium:chromium node:nodejs npm:npm pdftoppm:poppler-utils; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Exactly the locked versions (requirements/test.txt, hash-checked), and first of
# all a lock that still matches pyproject.toml.
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
./scripts/lock.sh --check
.venv/bin/python -m pip install -q --require-hashes -r requirements/test.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "the web UI build needs Node.js 20 or newer; this machine has $(node --version)" >&2
  exit 1
fi
npm ci --prefix frontend --no-audit --no-fund --loglevel=error
npm ci --prefix tests/fixtures/oidc --no-audit --no-fund --loglevel=error  # the OpenID provider
npm run build --prefix frontend --silent
npm run check --prefix frontend --silent

.venv/bin/ruff check analytics_gateway tests bench client
.venv/bin/ruff format --check analytics_gateway tests bench client
.venv/bin/mypy analytics_gateway tests bench client/src
if [ "$#" -gt 0 ]; then
  exec .venv/bin/pytest "$@"
fi
.venv/bin/pytest
.venv/bin/pytest -q tests/e2e --backends production
