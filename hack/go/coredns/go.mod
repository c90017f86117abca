// Wrapper module: builds CoreDNS v1.12.0 (the version kubeadm ships with Kubernetes 1.33)
// with only the plugins a cluster-local DNS needs.
module weft.io/hack/coredns

go 1.24.0

require github.com/coredns/coredns v1.12.0
