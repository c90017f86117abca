# Cluster DNS: the CoreDNS binary that hack/cluster/build.sh builds from its Go module.
# shellcheck shell=bash
IMAGE_NAME=coredns
IMAGE_TAG="$(coredns_version)"
IMAGE_ENTRYPOINT='["/coredns"]'
IMAGE_INPUTS=("$(cache_bin_dir)/coredns")

fill_rootfs() {
  local bin
  bin="$(cache_bin_dir)/coredns"
  [[ -x $bin ]] || die "$bin is missing: run hack/cluster/build.sh first"
  add_binary "$1" "$bin" /coredns
  add_passwd "$1"
}
