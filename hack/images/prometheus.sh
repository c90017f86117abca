# The bundled Prometheus: Debian's build (apt-get install prometheus; hack/deps.sh installs it).
# Its targets come from the controller image's `weft-controller prometheus` sidecar over HTTP
# service discovery, because Debian's build leaves out Kubernetes discovery.
# shellcheck shell=bash
IMAGE_NAME=prometheus
IMAGE_TAG="$(dpkg-query -W -f='${Version}' prometheus 2>/dev/null | sed 's/[+~].*//')"
IMAGE_ENTRYPOINT='["/bin/prometheus"]'
IMAGE_USER=65532
IMAGE_INPUTS=(/usr/bin/prometheus)

fill_rootfs() {
  [[ -x /usr/bin/prometheus ]] || die "prometheus image: /usr/bin/prometheus is missing (apt-get install prometheus)"
  add_binary "$1" /usr/bin/prometheus /bin/prometheus
  add_passwd "$1"
  mkdir -p "$1/tmp" "$1/data"
  chmod 1777 "$1/tmp"
}
