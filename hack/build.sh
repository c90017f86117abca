#!/usr/bin/env bash
# make build: every deliverable of the repo, bundled.
#   dist/weft-controller.js   the control plane's one entry point (operator/controller.ts)
#   dist/weft-proxy           the proxy as one executable (proxy/sea/build.sh)
#   dist/pepr/dist/pepr-module-weft.yaml   the operator's Pepr module (hack/pepr.sh build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

step() { printf '\033[1mbuild: %s\033[0m\n' "$*"; }

step "control plane (esbuild → dist/weft-controller.js)"
esbuild operator/controller.ts --bundle --platform=node --format=cjs --target=node20 \
  --packages=external --outfile=dist/weft-controller.js --log-level=warning

step "proxy (single executable → dist/weft-proxy)"
bash proxy/sea/build.sh

step "operator module (pepr build)"
bash hack/pepr.sh build

step "done"
ls -l dist/weft-controller.js dist/weft-proxy dist/pepr/dist/pepr-module-*.yaml
