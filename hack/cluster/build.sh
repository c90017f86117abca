#!/usr/bin/env bash
# Builds Kubernetes, etcd and CoreDNS from their Go modules (hack/go/*) into
# ~/.cache/weft/kubernetes/<version>-<hash>/bin, once per machine. Prints the bin directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Far above the ~15 min a cold build takes on 2 busy cores; only a hung build reaches it.
BUILD_TIMEOUT=$((120 * 60))
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# module_time MODULE@VERSION: when that version was published (its .info in the module cache).
module_time() {
  local info
  info="$(go mod download -json "$1" | sed -n 's/.*"Info": "\(.*\)".*/\1/p')"
  sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info"
}

# The same variables Kubernetes' own build stamps, so `kubectl version` tells the truth.
k8s_ldflags() {
  local version=$1 built=$2 major minor pkg flags="-s -w"
  major="$(echo "${version#v}" | cut -d. -f1)"
  minor="$(echo "${version#v}" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$built -X $pkg.gitCommit=module-$version"
  done
  echo "$flags"
}

# go_build MODULE_DIR OUT_DIR LDFLAGS PACKAGES...: a low-priority build that shows progress.
go_build() {
  local dir=$1 out=$2 ldflags=$3 build_log pid total started=$SECONDS
  shift 3
  build_log="$(mktemp)"
  total="$(cd "$dir" && go list -mod=readonly -deps "$@" | wc -l)"
  (cd "$dir" && CGO_ENABLED=0 exec nice -n 19 go build -mod=readonly -trimpath -v \
    -ldflags "$ldflags" -o "$out/" "$@") >"$build_log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null || break
    if ((SECONDS - started > BUILD_TIMEOUT)); then
      kill -- "$pid" 2>/dev/null || true
      die "go build in $dir still running after $((BUILD_TIMEOUT / 60)) min; stopped it (log: $build_log)"
    fi
    log "  ... $((SECONDS - started))s, $(grep -c . "$build_log") of at most $total packages compiled, now: $(tail -1 "$build_log")"
  done
  if ! wait "$pid"; then
    grep -v '^[a-z0-9./_-]*$' "$build_log" | tail -40 >&2
    die "go build in $dir failed (full log: $build_log)"
  fi
  rm -f "$build_log"
  log "  built $* in $((SECONDS - started))s"
}

missing() {
  local bin
  for bin in "$@"; do [[ -x $out/$bin ]] || return 0; done
  return 1
}

build_kubernetes() {
  local version packages=() bin
  version="$(k8s_version)"
  missing "${K8S_BINARIES[@]}" || return 0
  log "building Kubernetes $version (${K8S_BINARIES[*]}); the first build takes many minutes"
  for bin in "${K8S_BINARIES[@]}"; do packages+=("k8s.io/kubernetes/cmd/$bin"); done
  go_build "$HACK_DIR/go/kubernetes" "$out" \
    "$(k8s_ldflags "$version" "$(module_time "k8s.io/kubernetes@$version")")" "${packages[@]}"
}

build_etcd() {
  missing etcd || return 0
  log "building etcd $(etcd_version)"
  go_build "$HACK_DIR/go/etcd" "$out" "-s -w" .
}

build_coredns() {
  missing coredns || return 0
  log "building CoreDNS $(coredns_version)"
  go_build "$HACK_DIR/go/coredns" "$out" \
    "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$(coredns_version)" .
}

main() {
  command -v go >/dev/null || die "Go is required to build Kubernetes (https://go.dev/dl)"
  out="$(cache_bin_dir)"
  mkdir -p "$out"
  local started=$SECONDS
  build_etcd
  build_coredns
  build_kubernetes
  if ((SECONDS - started > 5)); then
    log "binaries ready in $out after $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
  fi
  echo "$out"
}

main "$@"
