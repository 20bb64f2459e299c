#!/usr/bin/env bash
# Build the web UI (frontend/ into analytics_gateway/web/dist) when, and only when,
# something changed:
#   npm ci         when frontend/package.json or package-lock.json differ from the
#                  last successful install (or frontend/node_modules is missing);
#   npm run build  when any file under frontend/ (node_modules aside) differs from
#                  the last successful build, or the build's pages are missing.
# After each step succeeds, the hash of its inputs is kept in frontend/node_modules/,
# which `npm ci` empties first: new dependencies always mean a new build too.
# `--force` runs both steps anyway. Used by scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

FRONTEND=frontend
DIST=analytics_gateway/web/dist
DEPS_STAMP="$FRONTEND/node_modules/.gateway-deps.sha256"
BUILD_STAMP="$FRONTEND/node_modules/.gateway-build.sha256"

force=0
if [ "${1:-}" = "--force" ]; then
  force=1
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi
}

# One hash over the names and contents of the files named on stdin, one per line.
hash_listed() {
  local file
  while IFS= read -r file; do
    printf '%s\n' "$file"
    sha256 <"$file"
  done | sha256 | cut -d ' ' -f 1
}

# The platform too: node_modules holds native binaries for one OS and CPU.
deps_hash() {
  {
    uname -sm
    printf '%s\n' "$FRONTEND/package.json" "$FRONTEND/package-lock.json" | hash_listed
  } | sha256 | cut -d ' ' -f 1
}

sources_hash() {
  find "$FRONTEND" -path "$FRONTEND/node_modules" -prune -o -type f -print |
    LC_ALL=C sort | hash_listed
}

stamp_is() {
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

deps="$(deps_hash)"
if [ "$force" = 1 ] || [ ! -d "$FRONTEND/node_modules" ] || ! stamp_is "$DEPS_STAMP" "$deps"; then
  rm -f "$DEPS_STAMP" "$BUILD_STAMP"
  npm ci --prefix "$FRONTEND" --no-audit --no-fund --loglevel=error
  printf '%s\n' "$deps" >"$DEPS_STAMP"
else
  echo "web UI: dependencies unchanged, npm ci skipped"
fi

sources="$(sources_hash)"
if [ "$force" = 1 ] || [ ! -f "$DIST/index.html" ] || [ ! -f "$DIST/graphiql.html" ] ||
  ! stamp_is "$BUILD_STAMP" "$sources"; then
  rm -f "$BUILD_STAMP"
  npm run build --prefix "$FRONTEND" --silent
  printf '%s\n' "$sources" >"$BUILD_STAMP"
else
  echo "web UI: frontend/ unchanged since the last build, build skipped"
fi
