# Host networking for the cluster: the bridge, its routes, the FORWARD guard, sysctls.
# Sourced by up.sh and down.sh. Every change is recorded so down.sh can undo it.
# shellcheck shell=bash

GUARD_CHAIN=WEFT-FORWARD
INPUT_GUARD_CHAIN=WEFT-INPUT
# Sysctls that the bridge, the kubelet or kube-proxy may change; saved once, restored by down.sh.
SAVED_SYSCTLS=(
  net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
)

ip_to_int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# cidrs_overlap A B: two IPv4 CIDRs overlap exactly when they agree on the shorter prefix.
cidrs_overlap() {
  local len mask
  len=$((${1#*/} < ${2#*/} ? ${1#*/} : ${2#*/}))
  mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
  (((($(ip_to_int "${1%/*}") ^ $(ip_to_int "${2%/*}")) & mask) == 0))
}

# Refuse to start when the pod or service range collides with a route this host already has.
check_cidrs_free() {
  local route dst
  while read -r route; do
    dst="${route%% *}"
    [[ $dst == default || $route == *"dev $BRIDGE"* ]] && continue
    [[ $dst == */* ]] || dst="$dst/32"
    for cidr in "$POD_CIDR" "$SERVICE_CIDR"; do
      if cidrs_overlap "$cidr" "$dst"; then die "$cidr overlaps the host route '$route'"; fi
    done
  done < <(ip -4 route show table all | grep -v '^local\|^broadcast')
}

save_sysctls() {
  local file="$CLUSTER_DIR/sysctl.saved" key value
  [[ -f $file ]] && return 0
  for key in "${SAVED_SYSCTLS[@]}"; do
    value="$(sysctl -n "$key" 2>/dev/null)" || continue
    echo "$key=$value"
  done >"$file"
}

restore_sysctls() {
  local file="$CLUSTER_DIR/sysctl.saved" line
  [[ -f $file ]] || return 0
  while read -r line; do sysctl -q -w "$line" >/dev/null 2>&1 || true; done <"$file"
  rm -f "$file"
}

# The bridge exists before any pod so the API server and kubelet can use its address.
ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Service IPs are reached through kube-proxy's DNAT; a route keeps stray packets on the bridge.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
}

ensure_sysctls() {
  sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >/dev/null
}

# The guards live in the mangle table, which the packet meets before the filter table, so no
# ACCEPT that kube-proxy puts in filter INPUT/FORWARD can come ahead of them; nothing else of
# the cluster's uses mangle INPUT or FORWARD.
GUARD_TABLE=mangle
guard_iptables() { iptables -w -t "$GUARD_TABLE" "$@"; }

# ensure_rule CHAIN RULE...: appends the rule unless it is there (a re-run never flushes a guard).
ensure_rule() {
  local chain=$1
  shift
  guard_iptables -C "$chain" "$@" 2>/dev/null || guard_iptables -A "$chain" "$@"
}

# ensure_guard_jump BUILTIN CHAIN: the guard chain exists and BUILTIN jumps to it first.
ensure_guard_jump() {
  guard_iptables -N "$2" 2>/dev/null || true
  guard_iptables -C "$1" -j "$2" 2>/dev/null || guard_iptables -I "$1" 1 -j "$2"
}

# Pod traffic may go to pods and Services (already DNATed to pods here) and nowhere else;
# nothing from outside this host may be forwarded into the pod network.
ensure_forward_guard() {
  guard_iptables -N "$GUARD_CHAIN" 2>/dev/null || true
  ensure_rule "$GUARD_CHAIN" -s "$POD_CIDR" -d "$POD_CIDR" -j RETURN
  ensure_rule "$GUARD_CHAIN" -s "$POD_CIDR" -j DROP
  ensure_rule "$GUARD_CHAIN" -d "$POD_CIDR" -j DROP
  ensure_guard_jump FORWARD "$GUARD_CHAIN"
}

# The API server listens on every address (the host uses 127.0.0.1, pods the bridge address)
# and the kubelet on the bridge address; only loopback and the bridge may reach them.
ensure_input_guard() {
  guard_iptables -N "$INPUT_GUARD_CHAIN" 2>/dev/null || true
  ensure_rule "$INPUT_GUARD_CHAIN" -i lo -j RETURN
  ensure_rule "$INPUT_GUARD_CHAIN" -i "$BRIDGE" -j RETURN
  ensure_rule "$INPUT_GUARD_CHAIN" -p tcp -m multiport \
    --dports "$APISERVER_PORT,$KUBELET_PORT,$ETCD_CLIENT_PORT,$ETCD_PEER_PORT" -j DROP
  ensure_guard_jump INPUT "$INPUT_GUARD_CHAIN"
}

# Host paths that containerd, the CNI plugins and the kubelet create outside the cluster
# directory whatever they are told (shim sockets, netns pins, CNI cache, device plugins).
HOST_PATHS=(/run/containerd /var/run/netns /var/lib/cni /var/lib/kubelet /var/log/containers
  /var/log/pods /usr/libexec/kubernetes)

# Records which of HOST_PATHS did not exist before the cluster first started.
record_host_paths() {
  local file="$CLUSTER_DIR/host-paths.created" path
  [[ -f $file ]] && return 0
  for path in "${HOST_PATHS[@]}"; do [[ -e $path ]] || echo "$path"; done >"$file"
}

# Removes the recorded paths again; a directory others may share is removed only when empty.
remove_host_paths() {
  local file="$CLUSTER_DIR/host-paths.created" path
  [[ -f $file ]] || return 0
  while read -r path; do
    case "$path" in
      /var/run/netns | /var/log/containers | /var/log/pods) rmdir "$path" 2>/dev/null || true ;;
      *) rm -rf "$path" ;;
    esac
  done <"$file"
  rm -f "$file"
}

setup_network() {
  check_cidrs_free
  record_host_paths
  save_sysctls
  ip netns list 2>/dev/null | awk '{print $1}' >"$CLUSTER_DIR/netns.before"
  ensure_bridge
  ensure_sysctls
  ensure_forward_guard
  ensure_input_guard
}

# remove_iptables_chains TOOL: deletes every rule that jumps to, and every chain named,
# KUBE-* or CNI-* (kube-proxy's, the kubelet's, the CNI plugins') or our guard chains.
remove_iptables_chains() {
  local tool=$1 table rule chain
  command -v "$tool" >/dev/null || return 0
  for table in filter nat mangle raw; do
    "$tool" -w -t "$table" -S >/dev/null 2>&1 || continue
    while read -r rule; do
      eval "\"$tool\" -w -t $table ${rule/-A /-D }" 2>/dev/null || true
    done < <("$tool" -w -t "$table" -S | grep -E "^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-|$GUARD_CHAIN|$INPUT_GUARD_CHAIN)")
    while read -r chain; do
      "$tool" -w -t "$table" -F "$chain" 2>/dev/null || true
    done < <("$tool" -w -t "$table" -S | awk -v guard="$GUARD_CHAIN" -v input="$INPUT_GUARD_CHAIN" '$1 == "-N" && ($2 ~ /^(KUBE|CNI)-/ || $2 == guard || $2 == input) {print $2}')
    while read -r chain; do
      "$tool" -w -t "$table" -X "$chain" 2>/dev/null || true
    done < <("$tool" -w -t "$table" -S | awk -v guard="$GUARD_CHAIN" -v input="$INPUT_GUARD_CHAIN" '$1 == "-N" && ($2 ~ /^(KUBE|CNI)-/ || $2 == guard || $2 == input) {print $2}')
  done
}

# Network namespaces that appeared while the cluster ran and that containerd left behind.
remove_pod_netns() {
  local before="$CLUSTER_DIR/netns.before" ns
  [[ -f $before ]] || return 0
  while read -r ns; do
    [[ $ns == cni-* ]] || continue
    grep -qx "$ns" "$before" && continue
    ip netns delete "$ns" 2>/dev/null || true
  done < <(ip netns list 2>/dev/null | awk '{print $1}')
  rm -f "$before"
}

teardown_network() {
  local veth
  remove_pod_netns
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    for veth in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip link delete "$veth" 2>/dev/null || true
    done
    ip link delete "$BRIDGE"
  fi
  remove_iptables_chains iptables
  remove_iptables_chains ip6tables
  restore_sysctls
  rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null || true
  remove_host_paths
}
