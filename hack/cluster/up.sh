#!/usr/bin/env bash
# Starts a single-node Kubernetes on this machine (make cluster-up). Idempotent: components
# already running are left alone. Ends by printing the KUBECONFIG export line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$HACK_DIR/cluster/pki.sh"
source "$HACK_DIR/cluster/config.sh"
source "$HACK_DIR/cluster/network.sh"

DEBIAN_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack iproute2 openssl curl busybox-static)
# What the Debian packages provide; all present means there is nothing to install.
REQUIRED_FILES=(/usr/bin/containerd /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local
  /usr/sbin/iptables /usr/sbin/conntrack /usr/bin/openssl /usr/bin/curl /usr/sbin/ss /bin/busybox)

require_root() { ((EUID == 0)) || die "the cluster needs root (network namespaces, iptables, mounts)"; }

ensure_packages() {
  local file
  for file in "${REQUIRED_FILES[@]}"; do
    [[ -e $file ]] && continue
    log "installing Debian packages: ${DEBIAN_PACKAGES[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${DEBIAN_PACKAGES[@]}" >/dev/null
    return 0
  done
}

ensure_binaries() {
  local cached bin
  cached="$("$HACK_DIR/cluster/build.sh")"
  mkdir -p "$BIN_DIR"
  for bin in "$cached"/*; do ln -sfn "$bin" "$BIN_DIR/$(basename "$bin")"; done
}

# start NAME COMMAND...: runs a component in its own session, logging to logs/NAME.log.
start() {
  local name=$1 pid
  shift
  if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  log "starting $name"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

# check_alive NAME: fails with the tail of the component's log if it has exited. Right after
# start, the child may still be the forked shell or setsid (its cmdline does not name the
# component yet), so it gets a moment (bounded) before it counts as gone.
check_alive() {
  local try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    pid_of "$1" >/dev/null && return 0
    sleep 0.2
  done
  tail -20 "$LOG_DIR/$1.log" >&2
  die "$1 exited; its log is $LOG_DIR/$1.log"
}

# wait_up SECONDS NAME COMMAND...: waits for a component's health check, failing early if it dies.
wait_up() {
  local timeout=$1 name=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    check_alive "$name"
    ((SECONDS < deadline)) || die "$name not healthy after ${timeout}s; see $LOG_DIR/$name.log"
    sleep 0.5
  done
}

healthz() { curl -sfk --max-time 2 "$@"; }
apiserver_healthz() {
  curl -sf --max-time 2 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz"
}

start_containerd() {
  start containerd containerd --config "$CLUSTER_DIR/containerd/config.toml"
  wait_up 30 containerd ctr_ version
}

start_etcd() {
  start etcd "$BIN_DIR/etcd" --name "$NODE_NAME" --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --log-level warn
  wait_up 30 etcd healthz "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

start_apiserver() {
  start kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" --advertise-address "$NODE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --client-ca-file "$PKI_DIR/ca.crt" \
    --tls-cert-file "$PKI_DIR/apiserver.crt" --tls-private-key-file "$PKI_DIR/apiserver.key" \
    --kubelet-client-certificate "$PKI_DIR/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI_DIR/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI_DIR/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI_DIR/sa.pub" \
    --service-account-signing-key-file "$PKI_DIR/sa.key" \
    --profiling=false
  wait_up 60 kube-apiserver apiserver_healthz
}

start_controllers() {
  start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$PKI_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI_DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --root-ca-file "$PKI_DIR/ca.crt" --service-account-private-key-file "$PKI_DIR/sa.key" \
    --cluster-signing-cert-file "$PKI_DIR/ca.crt" --cluster-signing-key-file "$PKI_DIR/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false \
    --flex-volume-plugin-dir "$CLUSTER_DIR/kubelet/volume-plugins"
  start kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig "$PKI_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI_DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

start_node() {
  start kubelet "$BIN_DIR/kubelet" --config "$CLUSTER_DIR/kubelet/config.yaml" \
    --kubeconfig "$PKI_DIR/kubelet.kubeconfig" --root-dir "$CLUSTER_DIR/kubelet/root" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start kube-proxy "$BIN_DIR/kube-proxy" --config "$CLUSTER_DIR/kube-proxy/config.yaml"
  wait_up 30 kubelet healthz http://127.0.0.1:10248/healthz
  wait_up 30 kube-proxy healthz http://127.0.0.1:10256/healthz
}

node_ready() {
  [[ "$(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

install_coredns() {
  log "installing CoreDNS"
  sed -e "s|@DNS_SVC_IP@|$DNS_SVC_IP|g" -e "s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|g" \
    -e "s|@COREDNS_VERSION@|$(coredns_version)|g" "$HACK_DIR/cluster/manifests/coredns.yaml" |
    kubectl_ apply -f - >/dev/null
}

wait_cluster_ready() {
  wait_for 60 "node $NODE_NAME Ready" node_ready || die "node not Ready; see $LOG_DIR/kubelet.log"
  log "node $NODE_NAME is Ready"
  kubectl_ -n kube-system rollout status deploy/coredns --timeout=60s >/dev/null ||
    die "CoreDNS not available; kubectl -n kube-system describe pod -l k8s-app=kube-dns"
  log "CoreDNS is running"
}

write_admin_kubeconfig() {
  cp "$PKI_DIR/admin.kubeconfig" "$KUBECONFIG_PATH"
  chmod 600 "$KUBECONFIG_PATH"
}

main() {
  local started=$SECONDS
  require_root
  mkdir -p "$CLUSTER_DIR" "$RUN_DIR" "$LOG_DIR"
  ensure_gitignored
  ensure_packages
  ensure_binaries
  ensure_pki
  write_admin_kubeconfig
  write_containerd_config
  write_cni_config
  write_kubelet_config
  write_kube_proxy_config
  setup_network
  start_containerd
  "$HACK_DIR/images/build.sh" pause coredns
  start_etcd
  start_apiserver
  start_controllers
  start_node
  install_coredns
  wait_cluster_ready
  log "cluster up in $((SECONDS - started))s ($(k8s_version), node $NODE_NAME, pods $POD_CIDR, services $SERVICE_CIDR)"
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

# .cluster/ holds keys and state; it must never be committed.
ensure_gitignored() {
  local ignore="$REPO_DIR/.gitignore"
  grep -qxF '.cluster/' "$ignore" 2>/dev/null || echo '.cluster/' >>"$ignore"
}

main "$@"
