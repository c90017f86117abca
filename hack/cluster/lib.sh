# Shared settings and helpers for hack/cluster/*.sh. Source it; do not run it.
# shellcheck shell=bash

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$HACK_DIR/.." && pwd)"
CLUSTER_DIR="${WEFT_CLUSTER_DIR:-$REPO_DIR/.cluster}"
CACHE_ROOT="${WEFT_CACHE_DIR:-$HOME/.cache/weft}"

# Everything the cluster creates on the host is named after this, so down.sh can find it.
NODE_NAME=weft
BRIDGE=weft0
CNI_NETWORK=weft
# Pod and Service ranges; up.sh refuses to start if either overlaps a route on this host.
POD_CIDR=10.201.0.0/16
NODE_POD_RANGE=10.201.0.0/24
NODE_IP=10.201.0.1
SERVICE_CIDR=10.202.0.0/16
KUBERNETES_SVC_IP=10.202.0.1
DNS_SVC_IP=10.202.0.10
CLUSTER_DOMAIN=cluster.local

ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
APISERVER_PORT=6443
KUBELET_PORT=10250

PKI_DIR="$CLUSTER_DIR/pki"
RUN_DIR="$CLUSTER_DIR/run"
LOG_DIR="$CLUSTER_DIR/logs"
BIN_DIR="$CLUSTER_DIR/bin"
IMAGES_DIR="$CLUSTER_DIR/images"
CONTAINERD_SOCK="$RUN_DIR/containerd/containerd.sock"
KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig"

# The order in which components start; down.sh stops them in reverse.
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

log() { printf '\033[1m[%s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second until it succeeds.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

pid_file() { echo "$RUN_DIR/$1.pid"; }

# pid_of NAME: prints the PID recorded for a component if that process is still alive and
# still that component (a PID file can outlive a reboot and its PID be reused).
pid_of() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f $file ]] || return 1
  pid="$(<"$file")"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$1 "* ]] || return 1
  echo "$pid"
}

kubectl_() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# Versions come from the wrapper modules, so there is one place to change them.
k8s_version() { awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$HACK_DIR/go/kubernetes/go.mod"; }
etcd_version() { awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$HACK_DIR/go/etcd/go.mod"; }
coredns_version() { awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$HACK_DIR/go/coredns/go.mod"; }

# The binary cache is keyed by the Kubernetes version and a hash of every wrapper module's
# go.mod/go.sum and the Go toolchain, so a change to any of them builds anew.
cache_key() {
  local hash
  hash="$(cat "$HACK_DIR"/go/{kubernetes,etcd,coredns}/go.{mod,sum} <(go env GOVERSION) | sha256sum | cut -c1-12)"
  echo "$(k8s_version)-$hash"
}
cache_bin_dir() { echo "$CACHE_ROOT/kubernetes/$(cache_key)/bin"; }
