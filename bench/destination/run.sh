#!/usr/bin/env bash
# The destination benchmark: simulated proxies against the destination service (in-memory watch
# feed, real gRPC on 127.0.0.1). Arguments pass through (--services, --endpoints, --subscribers,
# --connections, --rounds).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
exec node --require tsx/cjs bench/destination/bench.ts "$@"
