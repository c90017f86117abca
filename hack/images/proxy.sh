# The proxy image: the single executable dist/weft-proxy (the proxy, and `weft-proxy init` for
# the init container) with the iptables it drives — both the nft and the legacy backend, since
# nodes differ — and their shared libraries and extensions. No shell, no distribution.
# shellcheck shell=bash
IMAGE_NAME=proxy
IMAGE_TAG="$(node -p 'require(process.argv[1]).version' "$REPO_DIR/package.json")"
IMAGE_ENTRYPOINT='["/usr/local/bin/weft-proxy"]'
IMAGE_USER=2102
IMAGE_ENV='["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/bin"]'
mapfile -t IMAGE_INPUTS < <(cd "$REPO_DIR" && find proxy api/gen -type f \( -name '*.ts' -o -name '*.c' -o -name '*.sh' \) ! -name '*.test.ts' | sort | sed "s|^|$REPO_DIR/|")
IMAGE_INPUTS+=("$REPO_DIR/package-lock.json" /usr/bin/node)

XTABLES_LIB=/usr/lib/x86_64-linux-gnu/xtables

add_iptables() {
  local root=$1 n so
  add_binary "$root" /usr/sbin/xtables-nft-multi
  add_binary "$root" /usr/sbin/xtables-legacy-multi
  for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-nft-multi "$root/usr/sbin/$n"
    ln -sf xtables-nft-multi "$root/usr/sbin/$n-nft"
    ln -sf xtables-legacy-multi "$root/usr/sbin/$n-legacy"
  done
  mkdir -p "$root$XTABLES_LIB"
  cp -a "$XTABLES_LIB/." "$root$XTABLES_LIB/"
  # The extensions (owner, multiport, comment, REDIRECT) load their own libraries.
  for so in "$XTABLES_LIB"/*.so; do add_binary "$root" "$so"; done
}

fill_rootfs() {
  local root=$1
  [[ -x /usr/sbin/xtables-nft-multi ]] || die "proxy image: iptables is not installed (apt-get install iptables)"
  log "  building dist/weft-proxy (proxy/sea/build.sh)"
  bash "$REPO_DIR/proxy/sea/build.sh" >/dev/null
  add_binary "$root" "$REPO_DIR/dist/weft-proxy" /usr/local/bin/weft-proxy
  add_iptables "$root"
  add_passwd "$root"
  mkdir -p "$root/tmp" "$root/run"
  chmod 1777 "$root/tmp"
}
