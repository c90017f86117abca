#!/usr/bin/env bash
# Runs Pepr on the operator module. Pepr expects its entry point next to the package.json that
# holds the "pepr" section; ours is operator/pepr.ts under the root package.json, so this stages
# dist/pepr/{package.json,pepr.ts,tsconfig.json,node_modules} and runs Pepr there.
#
#   hack/pepr.sh build [IMAGE]   → dist/pepr/dist/pepr-module-weft.yaml (controller image IMAGE)
#   hack/pepr.sh dev             → admission + watch in one local process against KUBECONFIG
#                                  (replaces the in-cluster operator; `make install` restores it;
#                                  the Mesh's components still run from the controller image)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
stage="$root/dist/pepr"
export PATH="$root/node_modules/.bin:$PATH"

stage_module() {
  mkdir -p "$stage"
  cp "$root/package.json" "$stage/package.json"
  printf '%s\n' '// Staged by hack/pepr.sh: the Weft module lives in operator/pepr.ts.' 'import "../../operator/pepr";' >"$stage/pepr.ts"
  cat >"$stage/tsconfig.json" <<'JSON'
{ "extends": "../../tsconfig.json", "compilerOptions": { "noEmit": true, "rootDir": "../.." }, "include": ["pepr.ts"], "exclude": [] }
JSON
  ln -sfn "$root/node_modules" "$stage/node_modules"
}

cmd="${1:-}"
shift || true
stage_module
cd "$stage"
case "$cmd" in
  build)
    image="${1:-docker.io/weft/controller:$(node -p 'require("./package.json").version')}"
    echo "pepr build: module for controller image $image"
    pepr build --custom-image "$image" --timeout 10
    ls -l dist/pepr-module-*.yaml
    ;;
  dev)
    # The module now runs here: remove the in-cluster operator's webhooks and Deployments
    # (Pepr applies its own without force, and two watchers would reconcile the same Mesh).
    echo "pepr dev: replacing the in-cluster operator (make install restores it)"
    kubectl delete mutatingwebhookconfiguration,validatingwebhookconfiguration pepr-weft --ignore-not-found >/dev/null
    kubectl -n pepr-system delete deploy pepr-weft pepr-weft-watcher --ignore-not-found >/dev/null
    export WEFT_SOURCE_ROOT="$root"
    exec pepr dev --host "${PEPR_DEV_HOST:-localhost}" --yes
    ;;
  *)
    echo "usage: hack/pepr.sh build [IMAGE] | dev" >&2
    exit 2
    ;;
esac
