#!/usr/bin/env bash
# Shows each harness component: process, health, address. Exits 1 if any is down.
source "$(dirname "$0")/lib.sh"
source "$WEIR_ROOT/e2e/harness/services.sh"

down=0
check() { # name health-command...
  local name="$1"; shift
  local pid state="down"
  pid=$(pid_of "$name")
  if is_running "$name"; then
    if "$@" >/dev/null 2>&1; then state="healthy"; else state="running, unhealthy"; fi
  fi
  [[ "$state" == healthy ]] || down=1
  printf '  %-24s %-20s %s\n' "$name" "$state" "${pid:+pid $pid}"
}
admin=(--cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
echo "weir harness ($WEIR_STATE)"
check etcd curl -fsS "http://$SVC_ADDR:2379/health"
check kube-apiserver curl -fsS "${admin[@]}" "https://$SVC_ADDR:6443/readyz"
check kube-controller-manager curl -fsSk "https://$SVC_ADDR:10257/healthz"
check kube-scheduler curl -fsSk "https://$SVC_ADDR:10259/healthz"
check minio curl -fsS "http://$SVC_ADDR:9000/minio/health/ready"
check minio-tls curl -fsS --cacert "$PKI/ca.crt" "https://$SVC_ADDR:9002/minio/health/ready"
check kafka bash -c "exec 3<>/dev/tcp/$SVC_ADDR/9092"
# The nodes made (a node-loss pool among them), or those up.sh would make.
nodes=$(harness_nodes | tr , ' ')
for k in $(if [[ -n "$nodes" ]]; then echo "${nodes//weir-node-/}"; else seq 1 "$HARNESS_NODES"; fi); do
  check "containerd-$k" ctr --address "/run/weir-harness/weir-node-$k/containerd.sock" version
  check "kubelet-$k" curl -fsSk "https://10.244.254.$k:10250/healthz" --cert "$PKI/apiserver-kubelet-client.crt" \
    --key "$PKI/apiserver-kubelet-client.key"
  check "kube-proxy-$k" curl -fsS "http://10.244.254.$k:10256/healthz"
done
if is_running kube-apiserver; then
  echo "nodes:"
  "$K8S_BIN/kubectl" --kubeconfig "$WEIR_STATE/admin.kubeconfig" get nodes -o wide 2>&1 | sed 's/^/  /'
fi
exit "$down"
