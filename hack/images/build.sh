#!/usr/bin/env bash
# make images: builds OCI images without a daemon and, when the local cluster's containerd
# is running, imports them into it. With no arguments builds every image.
#
# An image is a spec file hack/images/<name>.sh that sets
#   IMAGE_NAME, IMAGE_TAG          the image is docker.io/weft/<IMAGE_NAME>:<IMAGE_TAG>
#   IMAGE_ENTRYPOINT, IMAGE_CMD    JSON arrays (optional); IMAGE_USER, IMAGE_ENV (JSON), IMAGE_WORKDIR
#   IMAGE_INPUTS                   files whose content decides when to rebuild (array, optional)
# and defines fill_rootfs ROOT, which puts the program and what it needs into ROOT
# (helpers: add_binary, add_passwd, add_ca_certs, add_busybox from hack/images/lib.sh).
set -euo pipefail
IMAGES_SRC="$(cd "$(dirname "$0")" && pwd)"
source "$IMAGES_SRC/../cluster/lib.sh"
source "$IMAGES_SRC/lib.sh"

NOT_SPECS=(build lib)

all_specs() {
  local spec name
  for spec in "$IMAGES_SRC"/*.sh; do
    name="$(basename "$spec" .sh)"
    [[ " ${NOT_SPECS[*]} " == *" $name "* ]] || echo "$name"
  done
}

# spec_key NAME: changes whenever the spec, this builder, or one of the spec's inputs changes.
spec_key() {
  local files=("$IMAGES_SRC/$1.sh" "$IMAGES_SRC/lib.sh") input
  for input in "${IMAGE_INPUTS[@]}"; do [[ -e $input ]] && files+=("$input"); done
  cat "${files[@]}" | sha256sum | cut -c1-16
}

# build_one NAME: runs in a subshell so one spec's variables never leak into the next.
build_one() (
  local name=$1 rootfs key archive ref tmp
  IMAGE_INPUTS=()
  # shellcheck source=/dev/null
  source "$IMAGES_SRC/$name.sh"
  ref="docker.io/weft/$IMAGE_NAME:$IMAGE_TAG"
  archive="$IMAGES_DIR/$name.tar"
  key="$(spec_key "$name")"
  if [[ -f $archive && "$(cat "$archive.key" 2>/dev/null)" == "$key" ]]; then
    log "image $ref is up to date"
  else
    log "building image $ref"
    rootfs="$(mktemp -d)"
    tmp="$(mktemp "$archive.XXXXXX")"
    fill_rootfs "$rootfs"
    oci_archive "$rootfs" "$ref" "$tmp"
    rm -rf "$rootfs"
    chmod 644 "$tmp"
    mv "$tmp" "$archive"
    echo "$key" >"$archive.key"
    log "  $archive ($(du -h "$archive" | cut -f1))"
  fi
  import_into_cluster "$ref" "$archive"
)

containerd_running() { [[ -S $CONTAINERD_SOCK ]] && ctr_ version >/dev/null 2>&1; }

# import_into_cluster REF ARCHIVE: imports when missing or when the archive is newer.
import_into_cluster() {
  local ref=$1 archive=$2 stamp
  containerd_running || return 0
  stamp="$RUN_DIR/imported-$(basename "$archive").key"
  if ctr_ images ls -q | grep -qxF "$ref" && cmp -s "$archive.key" "$stamp"; then
    return 0
  fi
  log "  importing $ref into the cluster's containerd"
  ctr_ images import "$archive" >/dev/null
  cp "$archive.key" "$stamp"
}

main() {
  local names=("$@") name
  ((${#names[@]})) || mapfile -t names < <(all_specs)
  mkdir -p "$IMAGES_DIR"
  for name in "${names[@]}"; do
    [[ -f $IMAGES_SRC/$name.sh ]] || die "no image spec hack/images/$name.sh"
    build_one "$name"
  done
}

main "$@"
