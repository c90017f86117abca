// Wrapper module: builds etcd at the version Kubernetes v1.33.13 pins (go.etcd.io/etcd/* v3.5.21).
module weft.io/hack/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 v3.5.21
