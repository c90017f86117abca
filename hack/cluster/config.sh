# Configuration files for containerd, CNI, the kubelet and kube-proxy. Sourced by up.sh.
# shellcheck shell=bash

PAUSE_IMAGE=docker.io/weft/pause:3.10

# write_if_changed FILE: replaces FILE with stdin only when the content differs, because
# kube-proxy exits when its configuration file changes, even to the same bytes.
write_if_changed() {
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod 644 "$tmp" && mv "$tmp" "$1"; fi
}

# containerd keeps its root, state, socket and plugins under the cluster directory, so it
# never touches a system containerd; cgroupfs because the kubelet runs outside systemd.
write_containerd_config() {
  mkdir -p "$CLUSTER_DIR/containerd" "$RUN_DIR/containerd"
  write_if_changed "$CLUSTER_DIR/containerd/config.toml" <<EOF
version = 2
root = "$CLUSTER_DIR/containerd/root"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$RUN_DIR/containerd/containerd.sock.ttrpc"

[debug]
  address = "$RUN_DIR/containerd/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_selinux = false
  disable_apparmor = true
  # Root here may lack CAP_SYS_RESOURCE (sandboxed VMs); never ask for a lower OOM score
  # than containerd's own, which is what the kubelet's -998 for pause would need.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "$RUN_DIR/runc"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$CLUSTER_DIR/cni/net.d"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "$CLUSTER_DIR/containerd/certs.d"
EOF
}

# A bridge network with no IP masquerade: pods talk to each other, to Services and to this
# host, and to nothing else (up.sh also installs a FORWARD guard).
write_cni_config() {
  mkdir -p "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/cni/ipam"
  write_if_changed "$CLUSTER_DIR/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CLUSTER_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "${NODE_POD_RANGE%.*/*}.10",
                     "rangeEnd": "${NODE_POD_RANGE%.*/*}.250", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

write_kubelet_config() {
  mkdir -p "$CLUSTER_DIR/kubelet"
  echo "nameserver $DNS_SVC_IP" | write_if_changed "$CLUSTER_DIR/kubelet/resolv.conf"
  write_if_changed "$CLUSTER_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: [$DNS_SVC_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $CLUSTER_DIR/kubelet/resolv.conf
podLogsDir: $LOG_DIR/pods
volumePluginDir: $CLUSTER_DIR/kubelet/volume-plugins
# Images here cannot be pulled again, so the kubelet must never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
serializeImagePulls: false
rotateCertificates: false
shutdownGracePeriod: 0s
EOF
}

write_kube_proxy_config() {
  mkdir -p "$CLUSTER_DIR/kube-proxy"
  write_if_changed "$CLUSTER_DIR/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
clientConnection: {kubeconfig: $PKI_DIR/kube-proxy.kubeconfig}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the bridge address, so kube-proxy leaves route_localnet alone.
nodePortAddresses: ["$NODE_IP/32"]
iptables: {masqueradeAll: false, localhostNodePorts: false}
# Zero means: leave the host's conntrack settings as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}
