#!/usr/bin/env bash
# make e2e: the local cluster (or the configured one), images, then the e2e suites with mocha.
# The cluster is left running; E2E_DOWN=1 tears it down afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# kubectl of the local cluster first (same version), else the one on PATH.
export PATH="$root/.cluster/bin:$root/node_modules/.bin:$PATH"
step() { printf '\n\033[1m[e2e] %s\033[0m\n' "$*" >&2; }
fail() { printf '\033[31m[e2e] failed: %s\033[0m\n' "$*" >&2; exit 1; }

# With E2E_DOWN set, everything comes down however the run ends, a failed start included.
teardown() {
  step "tearing down"
  bash hack/down.sh || true
}
[[ -z ${E2E_DOWN:-} ]] || trap teardown EXIT

if ! kubectl version --request-timeout=5s >/dev/null 2>&1; then
  export KUBECONFIG="$root/.cluster/kubeconfig"
  if ! { [[ -f $KUBECONFIG ]] && bash hack/cluster/status.sh >/dev/null 2>&1; }; then
    step "starting the local cluster"
    bash hack/cluster/up.sh || fail "hack/cluster/up.sh"
  fi
fi
step "images"
bash hack/images/build.sh || fail "hack/images/build.sh"
step "install Weft (hack/install.sh)"
bash hack/install.sh || fail "hack/install.sh"
step "suites"
npx mocha --timeout 600000 e2e/*.test.ts "$@"
