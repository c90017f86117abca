#!/usr/bin/env bash
# make test: generated code is current, lint, type-check, then every colocated test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lint (eslint, prettier)"
eslint .
prettier --check . --log-level warn

step "type-check (tsc --noEmit)"
tsc --noEmit

step "tests (mocha)"
# Unit and integration tests sit next to the code; e2e/ needs a cluster (make e2e).
if [ $# -eq 0 ]; then
  set -- "api/**/*.test.ts" "crds/**/*.test.ts" "operator/**/*.test.ts" "proxy/**/*.test.ts" "bench/**/*.test.ts"
fi
mocha "$@"
