#!/usr/bin/env bash
# make bench: the proxy benchmark (bench/proxy), mTLS on a meshed hop against HAProxy with TLS
# (bench/mtls), the destination benchmark (bench/destination), then the injector's admission
# latency on the cluster (bench/admission; skipped with a message when no cluster answers).
# BENCH_ONLY=proxy|mtls|destination|admission runs one. Installs its peers
# and load generators when missing (Debian's haproxy, nginx, wrk, h2load; vegeta from the Go
# module proxy into dist/), builds the SEA binary when missing, then prints the comparison. Every
# load is bounded in time (BENCH_SECONDS, default 8) and stays on 127.0.0.1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Needs only a cluster, none of the local peers below.
[ "${BENCH_ONLY:-all}" = admission ] && exec bash bench/admission/run.sh "$@"
export PATH="$root/node_modules/.bin:$root/dist/bench/bin:$PATH"

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v vegeta >/dev/null; then
  command -v go >/dev/null || { echo "bench: go is needed to install vegeta (constant-rate load)" >&2; exit 1; }
  echo "bench: installing vegeta v12.12.0 into dist/bench/bin"
  mkdir -p dist/bench/bin
  GOBIN="$root/dist/bench/bin" go install github.com/tsenart/vegeta/v12@v12.12.0
fi
# crload (bench/loadgen): constant-rate load at a fraction of vegeta's CPU; rebuilt when its
# source is newer than the binary.
[ dist/bench/bin/crload -nt bench/loadgen/crload.c ] || bash bench/loadgen/build.sh

[ -x dist/weft-proxy ] || bash proxy/sea/build.sh

# One benchmark at a time on this host: two would share ports and distort each other's figures.
exec 9>"${TMPDIR:-/tmp}/weft-bench.lock"
if ! flock -n 9; then
  echo "bench: another benchmark is running; waiting for it (at most 15 min)"
  flock -w 900 9 || { echo "bench: still busy, giving up" >&2; exit 1; }
fi

# vegeta holds one socket per in-flight request at 5k/s.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
case "${BENCH_ONLY:-all}" in
  proxy) exec node --require tsx/cjs bench/proxy/bench.ts "$@" ;;
  destination) exec bash bench/destination/run.sh "$@" ;;
  mtls) exec node --require tsx/cjs bench/mtls/bench.ts "$@" ;;
esac
node --require tsx/cjs bench/proxy/bench.ts "$@"
echo
node --require tsx/cjs bench/mtls/bench.ts
echo
bash bench/destination/run.sh
echo
bash bench/admission/run.sh
