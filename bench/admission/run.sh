#!/usr/bin/env bash
# The admission benchmark: dry-run pod creates against the cluster in $KUBECONFIG (default: the
# local cluster's). Skips, with a message, when no cluster answers or Weft is not installed.
# Arguments pass through (--rate, --seconds).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export KUBECONFIG="${KUBECONFIG:-$root/.cluster/kubeconfig}"
kubectl="$root/.cluster/bin/kubectl"
[ -x "$kubectl" ] || kubectl=kubectl

if [ ! -f "$KUBECONFIG" ] || ! "$kubectl" get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
  echo "admission bench: skipped: no cluster reachable (KUBECONFIG=$KUBECONFIG; make cluster-up or make up)"
  exit 0
fi
if ! "$kubectl" -n pepr-system get deploy/pepr-weft --request-timeout=10s >/dev/null 2>&1; then
  echo "admission bench: skipped: the Weft operator is not installed (make install)"
  exit 0
fi
exec node --require tsx/cjs bench/admission/bench.ts "$@"
