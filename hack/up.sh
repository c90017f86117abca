#!/usr/bin/env bash
# make up: a cluster (the configured one, else the local one), images, Weft, a Mesh, and the
# meshed demo application; then the summary. Every step says what it does; a failure names the
# step and exits non-zero.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# kubectl of the local cluster first (same version), else the one on PATH.
export PATH="$root/.cluster/bin:$root/node_modules/.bin:$PATH"
MESH_TIMEOUT="${MESH_TIMEOUT:-180s}"
DEMO_TIMEOUT="${DEMO_TIMEOUT:-300s}"

n=0
STEPS="$(grep -c '^step "' "$0")"
step() { n=$((n + 1)); printf '\n\033[1m[up %d/%d] %s\033[0m\n' "$n" "$STEPS" "$*" >&2; }
fail() { printf '\033[31m[up] step %d failed: %s\033[0m\n' "$n" "$*" >&2; exit 1; }

# Uses KUBECONFIG / ~/.kube/config when it reaches a cluster; else the local one in .cluster/.
choose_cluster() {
  if [[ -z ${WEFT_LOCAL_CLUSTER:-} ]] && kubectl version --request-timeout=5s >/dev/null 2>&1; then
    echo "using the configured cluster: $(kubectl config current-context 2>/dev/null || echo "${KUBECONFIG:-}")" >&2
    return
  fi
  export KUBECONFIG="$root/.cluster/kubeconfig"
  if [[ -f $KUBECONFIG ]] && bash hack/cluster/status.sh >/dev/null 2>&1; then
    echo "the local cluster is already running" >&2
  else
    bash hack/cluster/up.sh || fail "hack/cluster/up.sh could not start the local cluster"
  fi
  export WEFT_USING_LOCAL_CLUSTER=1
}

step "cluster"
choose_cluster

step "images (hack/images/build.sh)"
bash hack/images/build.sh || fail "building or importing images"

step "install Weft (config/install.yaml)"
bash hack/install.sh || fail "installing the operator"

step "Mesh (config/samples/mesh.yaml), waiting up to $MESH_TIMEOUT for Ready"
kubectl apply -f config/samples/mesh.yaml >/dev/null || fail "kubectl apply -f config/samples/mesh.yaml"
if ! kubectl wait --for=condition=Ready mesh/weft --timeout="$MESH_TIMEOUT" >/dev/null; then
  kubectl get mesh weft -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2 || true
  fail "the Mesh did not become Ready within $MESH_TIMEOUT (kubectl -n pepr-system logs deploy/pepr-weft-watcher)"
fi

step "demo application (config/demo), waiting up to $DEMO_TIMEOUT"
kubectl apply -f config/demo/demo.yaml >/dev/null || fail "kubectl apply -f config/demo/demo.yaml"
for d in web books stock traffic; do
  printf '  waiting for deploy/%s\n' "$d" >&2
  kubectl -n weft-demo rollout status "deploy/$d" --timeout="$DEMO_TIMEOUT" >/dev/null ||
    fail "deploy/$d in weft-demo did not roll out (kubectl -n weft-demo describe pods -l app=$d)"
done

step "meshed?"
unmeshed="$(kubectl -n weft-demo get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.initContainers[*].name}{" "}{.spec.containers[*].name}{"\n"}{end}' | grep -v weft-proxy || true)"
[[ -z $unmeshed ]] || fail "demo pods without the proxy: $unmeshed"
echo "every demo pod carries weft-proxy" >&2
want="$(kubectl -n weft-demo get pods --no-headers | wc -l)"
for _ in $(seq 1 30); do
  have="$(kubectl get mesh weft -o jsonpath='{.status.meshedPods}' 2>/dev/null || echo 0)"
  ((${have:-0} >= want)) && break
  sleep 2
done

step "traffic metrics (Prometheus scrapes every proxy; the MTLS column comes from it)"
mtls=""
for _ in $(seq 1 45); do
  mtls="$(kubectl get mesh weft -o jsonpath='{.status.mtls}' 2>/dev/null || true)"
  [[ -n $mtls && $mtls != "-" ]] && break
  sleep 2
done
if [[ -n $mtls && $mtls != "-" ]]; then
  echo "share of the demo's requests under mTLS: $mtls" >&2
else
  echo "Prometheus has no request rates yet; kubectl get meshes shows MTLS once it has (about a minute)" >&2
fi

step "summary"
kubectl get meshes
cat <<MSG

Weft is up. The demo lives in namespace weft-demo (web → books over gRPC, stock over TCP, traffic at 5 rps).
  kubectl get pods -n weft-demo
  golden metrics of a pod's proxy:  kubectl -n weft-demo port-forward deploy/traffic 4191, then http://localhost:4191/metrics
  all proxies in Prometheus:  kubectl -n weft-system port-forward svc/weft-prometheus 9090, then
    curl -s localhost:9090/api/v1/query --data-urlencode 'query=sum by (deployment) (rate(response_total{direction="inbound"}[1m]))'
  dashboard:  not part of this release yet (the web component and the kubectl-weft plugin are still to come)
  tear down:  make down
MSG
[[ -n ${WEFT_USING_LOCAL_CLUSTER:-} ]] && echo "  (local cluster: export KUBECONFIG=$root/.cluster/kubeconfig)"
exit 0
