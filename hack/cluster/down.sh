#!/usr/bin/env bash
# Stops the local cluster (make cluster-down) and removes what it created: the processes it
# started (by PID file), pods and their network namespaces and veths, mounts, the bridge,
# iptables rules and chains, cgroups, and restores the sysctls it changed. Keeps the built
# images (.cluster/images), the components' logs (.cluster/logs) and the binary cache.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$HACK_DIR/cluster/network.sh"

# stop_component NAME: SIGTERM, then SIGKILL after a grace period, by the recorded PID only.
stop_component() {
  local name=$1 pid
  pid="$(pid_of "$name")" || { rm -f "$(pid_file "$name")"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  wait_for 15 "$name to exit" bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(pid_file "$name")"
}

# Pods are stopped through the CRI while containerd still runs, so the CNI plugin tears down
# each pod's network (veth, IP, netns) the normal way.
stop_pods() {
  pid_of containerd >/dev/null || return 0
  if pid_of kube-apiserver >/dev/null && pid_of kubelet >/dev/null; then
    stop_component kube-controller-manager
    stop_component kube-scheduler
    log "deleting all pods"
    kubectl_ delete pods --all-namespaces --all --force --grace-period=0 --wait=false >/dev/null 2>&1 || true
    wait_for 60 "pod sandboxes to stop" no_running_tasks || true
  fi
  stop_component kubelet
  kill_leftover_tasks
}

no_running_tasks() { ! ctr_ tasks ls -q 2>/dev/null | grep -q .; }

kill_leftover_tasks() {
  local task
  for task in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
  wait_for 15 "containers to die" no_running_tasks || true
}

# The runc shims outlive containerd; ours are the ones whose -address is our socket.
stop_shims() {
  local pid
  for pid in $(pgrep -x containerd-shim-runc-v2 2>/dev/null || true); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-address $CONTAINERD_SOCK " || continue
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# Mount points are listed by their physical path: .cluster may be a symlink (a git worktree's).
unmount_all() {
  local mnt dir
  dir="$(cd "$CLUSTER_DIR" && pwd -P)"
  for mnt in $(awk -v dir="$dir" '$5 == dir || index($5, dir "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$mnt" 2>/dev/null || true
  done
}

# cgroupfs: the kubelet's kubepods tree in every v1 hierarchy (and in v2, if that is used).
remove_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [[ -d $dir ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# Links the kubelet made in /var/log/containers to our pod logs.
remove_log_links() {
  local link
  [[ -d /var/log/containers ]] || return 0
  for link in /var/log/containers/*; do
    [[ -L $link && "$(readlink "$link")" == "$LOG_DIR"/* ]] && rm -f "$link"
  done
  rmdir /var/log/containers 2>/dev/null || true
}

# Keeps the image archives, and the components' logs for a look after the fact.
remove_state() {
  local entry
  for entry in "$CLUSTER_DIR"/*; do
    [[ -e $entry ]] || continue
    case "$(basename "$entry")" in images | logs) ;; *) rm -rf "$entry" ;; esac
  done
  rm -rf "$LOG_DIR/pods"
}

main() {
  ((EUID == 0)) || die "cluster-down needs root"
  [[ -d $CLUSTER_DIR ]] || { log "no cluster in $CLUSTER_DIR"; return 0; }
  stop_pods
  stop_component kube-proxy
  stop_component kube-controller-manager
  stop_component kube-scheduler
  stop_component kube-apiserver
  stop_component etcd
  stop_component containerd
  stop_shims
  unmount_all
  teardown_network
  remove_cgroups
  remove_log_links
  remove_state
  log "cluster down; kept the built images ($IMAGES_DIR) and the logs ($LOG_DIR)"
}

main "$@"
