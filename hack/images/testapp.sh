# A small image for tests and demos: static busybox (sh, wget, nslookup, httpd...) and
# shellcheck shell=bash
# /bin/serve, an HTTP server on $PORT (default 8080) whose every page is the pod's hostname.
IMAGE_NAME=testapp
IMAGE_TAG=1
IMAGE_CMD='["/bin/serve"]'
IMAGE_INPUTS=(/bin/busybox)

fill_rootfs() {
  add_busybox "$1"
  add_passwd "$1"
  mkdir -p "$1/tmp" "$1/www"
  chmod 1777 "$1/tmp"
  cat >"$1/bin/serve" <<'SCRIPT'
#!/bin/sh
# Serves the hostname at every path, so a client can tell which replica answered.
hostname >/www/index.html
exec httpd -f -v -p "${PORT:-8080}" -h /www
SCRIPT
  chmod 755 "$1/bin/serve"
}
