#!/usr/bin/env bash
# make down: removes the demo and Weft; when the local cluster is the one in use, stops it too.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# kubectl of the local cluster first (same version), else the one on PATH.
export PATH="$root/.cluster/bin:$root/node_modules/.bin:$PATH"
step() { printf '\033[1m[down]\033[0m %s\n' "$*" >&2; }

# The local cluster is the one in use when KUBECONFIG names it (make e2e and make up export it),
# or when nothing else answers and it exists.
local_cluster=""
if [[ ${KUBECONFIG:-} == "$root/.cluster/kubeconfig" ]]; then
  local_cluster=1
elif ! kubectl version --request-timeout=5s >/dev/null 2>&1 && [[ -f $root/.cluster/kubeconfig ]]; then
  export KUBECONFIG="$root/.cluster/kubeconfig"
  local_cluster=1
fi
if kubectl version --request-timeout=5s >/dev/null 2>&1; then
  step "deleting the demo (namespace weft-demo)"
  kubectl delete namespace weft-demo --ignore-not-found --timeout=120s >/dev/null || step "demo not fully deleted"
  step "uninstalling Weft"
  bash hack/install.sh --uninstall || step "uninstall reported errors"
else
  step "no reachable cluster; nothing to uninstall"
fi
if [[ -n $local_cluster && -x hack/cluster/down.sh || -n $local_cluster && -f hack/cluster/down.sh ]]; then
  step "stopping the local cluster"
  bash hack/cluster/down.sh
fi
step "done"
