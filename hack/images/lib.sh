# Daemonless OCI image building: a root filesystem directory becomes a one-layer OCI image
# archive that `ctr images import` accepts. Sourced by hack/images/build.sh and by specs.
# shellcheck shell=bash

# --- helpers for specs' fill_rootfs ---

# add_passwd ROOT: /etc/passwd and /etc/group with root, nobody and the proxy's user (2102).
add_passwd() {
  mkdir -p "$1/etc"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'weft:x:2102:2102:weft:/:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' >"$1/etc/passwd"
  printf '%s\n' 'root:x:0:' 'weft:x:2102:' 'nogroup:x:65534:' >"$1/etc/group"
}

# add_ca_certs ROOT: the host's CA bundle, for programs that make TLS connections.
add_ca_certs() {
  mkdir -p "$1/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"
}

# add_binary ROOT SOURCE [DEST]: copies a program and every shared library it links (ldd),
# keeping the libraries at their host paths so the dynamic loader finds them.
add_binary() {
  local root=$1 src=$2 dest=${3:-$2} lib
  mkdir -p "$root/$(dirname "$dest")"
  cp -L "$src" "$root/$dest"
  while read -r lib; do
    [[ -e $root/$lib ]] && continue
    mkdir -p "$root/$(dirname "$lib")"
    cp -L "$lib" "$root/$lib"
  done < <(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# add_busybox ROOT: a static busybox and a /bin link for each applet (sh, wget, httpd...).
add_busybox() {
  local applet
  mkdir -p "$1/bin"
  cp /bin/busybox "$1/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ -e $1/bin/$applet ]] || ln -s busybox "$1/bin/$applet"
  done
}

# --- OCI layout ---

json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# put_blob DIR FILE: moves FILE into the layout's blob store; prints "sha256:<hex> <size>".
put_blob() {
  local dir=$1 file=$2 hex size
  hex="$(sha256sum "$file" | cut -d' ' -f1)"
  size="$(stat -c %s "$file")"
  mv "$file" "$dir/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# image_config DIFF_ID: the OCI image config from the spec's IMAGE_* variables.
image_config() {
  local env='["PATH=/usr/local/bin:/usr/bin:/bin"]'
  [[ -n ${IMAGE_ENV:-} ]] && env="$IMAGE_ENV"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Cmd":%s,"Env":%s,"User":%s,"WorkingDir":%s,"Labels":{"org.opencontainers.image.source":"weft","org.opencontainers.image.version":%s}},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created_by":"hack/images/%s.sh"}]}' \
    "${IMAGE_ENTRYPOINT:-null}" "${IMAGE_CMD:-null}" "$env" "$(json_string "${IMAGE_USER:-}")" \
    "$(json_string "${IMAGE_WORKDIR:-/}")" "$(json_string "$IMAGE_TAG")" "$1" "$IMAGE_NAME"
}

# oci_archive ROOTFS REF OUT: writes an OCI image archive of ROOTFS named REF to OUT.
# The layer is reproducible: sorted entries, fixed times, root ownership.
oci_archive() {
  local rootfs=$1 ref=$2 out=$3 layout diff_id layer config manifest
  layout="$(mktemp -d)"
  mkdir -p "$layout/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$layout/layer.tar" .
  diff_id="sha256:$(sha256sum "$layout/layer.tar" | cut -d' ' -f1)"
  gzip -n -1 "$layout/layer.tar"
  read -r -a layer < <(put_blob "$layout" "$layout/layer.tar.gz")
  image_config "$diff_id" >"$layout/config.json"
  read -r -a config < <(put_blob "$layout" "$layout/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
    "${config[0]}" "${config[1]}" "${layer[0]}" "${layer[1]}" >"$layout/manifest.json"
  read -r -a manifest < <(put_blob "$layout" "$layout/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${manifest[0]}" "${manifest[1]}" "$ref" "${ref##*:}" >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$out" oci-layout index.json blobs
  rm -rf "$layout"
}
