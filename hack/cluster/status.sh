#!/usr/bin/env bash
# make cluster-status: each component up or down with its PID, RSS and listening ports,
# then the node's conditions. Exits 1 if any component is down.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# ports_of PID: the TCP addresses a process listens on.
ports_of() {
  ss -ltnpH 2>/dev/null | awk -v pid="pid=$1," 'index($0, pid) {print $4}' | sort -u | paste -sd' '
}

rss_of() { awk '/^VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

component_line() {
  local name=$1 pid
  if pid="$(pid_of "$name")"; then
    printf '  %-24s \033[32mup\033[0m    pid %-7s %-8s %s\n' "$name" "$pid" "$(rss_of "$pid")" "$(ports_of "$pid")"
  else
    printf '  %-24s \033[31mdown\033[0m\n' "$name"
    return 1
  fi
}

# The bridge and whether each guard chain is in place and first in its builtin chain.
network_lines() {
  local builtin guard state
  echo "  bridge $BRIDGE: $(ip -br addr show "$BRIDGE" 2>/dev/null | awk '{print $2, $3}' || true)"
  for builtin in FORWARD INPUT; do
    guard="WEFT-$builtin"
    if [[ "$(iptables -w -t mangle -S "$builtin" 2>/dev/null | sed -n 2p)" == "-A $builtin -j $guard" ]]; then
      state="first in mangle $builtin"
    else
      state="missing from mangle $builtin"
    fi
    echo "  guard $guard: $state"
  done
}

node_conditions() {
  kubectl_ get node "$NODE_NAME" \
    -o jsonpath='{range .status.conditions[*]}  {.type}={.status} ({.reason}){"\n"}{end}' 2>/dev/null ||
    echo "  (API server not reachable)"
}

main() {
  local name down=0
  [[ -d $CLUSTER_DIR ]] || { echo "no local cluster ($CLUSTER_DIR does not exist)"; exit 1; }
  echo "components ($(k8s_version)):"
  for name in "${COMPONENTS[@]}"; do component_line "$name" || down=1; done
  echo "network (pods $POD_CIDR, services $SERVICE_CIDR):"
  network_lines
  echo "node $NODE_NAME:"
  node_conditions
  echo "system pods:"
  kubectl_ get pods -n kube-system -o wide --no-headers 2>/dev/null | sed 's/^/  /' || true
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
  return "$down"
}

main "$@"
