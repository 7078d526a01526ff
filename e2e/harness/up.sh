#!/usr/bin/env bash
# Brings up the local real cluster: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, MinIO and Kafka in the "weir-svc" network namespace, and the
# nodes: real kubelets with containerd and runc (kubelet-node.sh) in the root
# namespace, running the images scripts/build-image.sh made. Idempotent: running components are checked,
# not restarted. Writes .weir/harness/env for `source`.
source "$(dirname "$0")/lib.sh"
source "$WEIR_ROOT/e2e/harness/services.sh"

[[ $(id -u) -eq 0 ]] || die "the harness needs root: it creates network namespaces, veth pairs and mounts"
ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here; install iproute2"
up_started=$(date +%s)

bash "$WEIR_ROOT/e2e/harness/build-all.sh"
source "$WEIR_ROOT/scripts/node-env.sh"
[[ -d "$WEIR_ROOT/node_modules/@kubernetes/client-node" ]] || die "node_modules missing: run 'bash scripts/setup.sh' first"

mkdir -p "$WEIR_STATE"/{logs,pids,data}
# Network namespaces, addresses, the nodes' ports and their links are
# machine-wide. A services namespace this checkout's etcd does not live in, or a
# node this checkout did not start, belongs to a crashed run or to another
# checkout (whose own down.sh may have removed only part of it); either would
# hold the ports, so it is removed first.
foreign_services() { ! is_running etcd && ip netns list | grep -qw "^$SVC_NETNS"; }
foreign_nodes() { ! is_running kubelet-1 && pgrep -f 'kubelet --config .*/nodes/weir-node-1/' >/dev/null; }
if foreign_services || foreign_nodes; then
  info "found a harness this checkout does not own (crashed run or other checkout); removing it"
  bash "$WEIR_ROOT/e2e/harness/down.sh"
  mkdir -p "$WEIR_STATE"/{logs,pids,data}
fi
step "network: services namespace $SVC_NETNS at $SVC_ADDR"
[[ -f "$WEIR_STATE/ip_forward.orig" ]] || cat /proc/sys/net/ipv4/ip_forward >"$WEIR_STATE/ip_forward.orig"
echo 1 >/proc/sys/net/ipv4/ip_forward
# The root namespace answers the namespaces from its own 10.244.254.254, so
# test traffic never carries the host's external address.
ip addr replace "$ROOT_ADDR/32" dev lo
bash "$WEIR_ROOT/e2e/harness/netns.sh" contain
if ! ip netns exec "$SVC_NETNS" ip -4 addr show dev eth0 2>/dev/null | grep -q "$SVC_ADDR"; then
  bash "$WEIR_ROOT/e2e/harness/netns.sh" create "$SVC_NETNS" "$SVC_VETH" "$SVC_ADDR" "$ROOT_ADDR"
fi
done_step

step "pki: CA, serving and client certificates"
bash "$WEIR_ROOT/e2e/harness/pki.sh" "$PKI" "$SVC_ADDR"
bash "$WEIR_ROOT/e2e/harness/services-pki.sh" "$PKI" "$SVC_ADDR"
write_kubeconfig admin
write_kubeconfig controller-manager
write_kubeconfig scheduler
done_step

step "etcd $ETCD_VERSION"
start_service etcd "$ETCD_BIN/etcd" --name weir --data-dir "$WEIR_STATE/data/etcd" \
  --listen-client-urls "http://$SVC_ADDR:2379,http://127.0.0.1:2379" --advertise-client-urls "http://$SVC_ADDR:2379" \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster weir=http://127.0.0.1:2380 --unsafe-no-fsync --quota-backend-bytes 8589934592 --log-level warn
wait_for etcd 60 curl -fsS "http://$SVC_ADDR:2379/health"
done_step

step "kube-apiserver $KUBERNETES_VERSION"
start_service kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$SVC_ADDR" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --profiling=false --event-ttl=1h
wait_for kube-apiserver 120 curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://$SVC_ADDR:6443/readyz"
done_step

step "kube-controller-manager and kube-scheduler"
start_service kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$WEIR_STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$WEIR_STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$WEIR_STATE/controller-manager.kubeconfig" \
  --bind-address=0.0.0.0 --secure-port=10257 --cert-dir="$WEIR_STATE/data/controller-manager" \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
  --leader-elect=false --use-service-account-credentials=true \
  --node-monitor-period=2s --node-monitor-grace-period=20s \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key"
start_service kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$WEIR_STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$WEIR_STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$WEIR_STATE/scheduler.kubeconfig" \
  --bind-address=0.0.0.0 --secure-port=10259 --cert-dir="$WEIR_STATE/data/scheduler" \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics --leader-elect=false
wait_for kube-controller-manager 60 curl -fsSk "https://$SVC_ADDR:10257/healthz"
wait_for kube-scheduler 60 curl -fsSk "https://$SVC_ADDR:10259/healthz"
done_step

step "minio $MINIO_VERSION"
MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" MINIO_BROWSER=off \
  start_service minio "$MINIO_BIN/minio" server "$WEIR_STATE/data/minio" \
  --address "$SVC_ADDR:9000" --console-address "$SVC_ADDR:9001" --quiet
wait_for minio 60 curl -fsS "http://$SVC_ADDR:9000/minio/health/ready"
WEIR_S3_ENDPOINT="http://$SVC_ADDR:9000" WEIR_S3_ACCESS_KEY="$S3_ACCESS_KEY" WEIR_S3_SECRET_KEY="$S3_SECRET_KEY" \
  node "$WEIR_ROOT/e2e/harness/ensure-bucket.ts" "$S3_BUCKET"
done_step

step "minio over TLS (a second server, certificate from the harness CA)"
MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" MINIO_BROWSER=off \
  start_service minio-tls "$MINIO_BIN/minio" server "$WEIR_STATE/data/minio-tls" \
  --address "$SVC_ADDR:9002" --console-address "$SVC_ADDR:9003" --certs-dir "$PKI/minio" --quiet
wait_for minio-tls 60 curl -fsS --cacert "$PKI/ca.crt" "https://$SVC_ADDR:9002/minio/health/ready"
NODE_EXTRA_CA_CERTS="$PKI/ca.crt" WEIR_S3_ENDPOINT="https://$SVC_ADDR:9002" WEIR_S3_ACCESS_KEY="$S3_ACCESS_KEY" \
  WEIR_S3_SECRET_KEY="$S3_SECRET_KEY" node "$WEIR_ROOT/e2e/harness/ensure-bucket.ts" "$S3_BUCKET"
done_step

step "kafka $KAFKA_VERSION (KRaft, single node)"
start_kafka
wait_for kafka 120 env WEIR_KAFKA_BOOTSTRAP="$SVC_ADDR:9092" node "$WEIR_ROOT/e2e/harness/check-kafka.ts"
done_step

# The first node alone (it builds the pause image when it is missing), then the others side by side
# (mostly waiting on their image imports and registration), each with its own log, printed in order.
node_up() { # k
  if (($1 > HARNESS_NODES)); then bash "$WEIR_ROOT/e2e/harness/kubelet-node.sh" up "$1" node-loss
  else bash "$WEIR_ROOT/e2e/harness/kubelet-node.sh" up "$1"; fi
}
node_up 1
# shellcheck disable=SC2046 # the node numbers, one word each
side_by_side node-up node_up $(seq 2 $((HARNESS_NODES + HARNESS_NODE_LOSS_NODES)))
wait_for default-serviceaccount 60 "$K8S_BIN/kubectl" --kubeconfig "$WEIR_STATE/admin.kubeconfig" \
  get serviceaccount/default configmap/kube-root-ca.crt -n default

write_env_file
info "harness up in $(( $(date +%s) - up_started ))s"
info "use it:  source $WEIR_STATE/env && kubectl get nodes -o wide"
