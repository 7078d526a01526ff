#!/usr/bin/env bash
# Stops the harness and removes what it made: processes, network namespaces,
# addresses, mount points and data. Keeps logs and the PKI. Idempotent.
source "$(dirname "$0")/lib.sh"
source "$WEIR_ROOT/e2e/harness/services.sh"

# The nodes first, side by side: their processes, mounts, links, iptables chains and cgroups.
node_down() { bash "$WEIR_ROOT/e2e/harness/kubelet-node.sh" down "$1"; }
nodes=()
for dir in "$WEIR_STATE"/nodes/weir-node-*; do
  if [[ -d "$dir" ]]; then nodes+=("${dir##*-}"); fi
done
if ((${#nodes[@]})); then
  step "removing nodes ${nodes[*]}"
  side_by_side node-down node_down "${nodes[@]}"
  done_step
fi

# What every kubelet shares in the root namespace: its iptables chains (kube-proxy's went with --cleanup).
if iptables -S KUBE-FIREWALL >/dev/null 2>&1; then
  while iptables -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  while iptables -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  iptables -F KUBE-FIREWALL && iptables -X KUBE-FIREWALL
fi
for table in filter nat mangle; do
  for chain in KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
    if iptables -t "$table" -S "$chain" >/dev/null 2>&1; then iptables -t "$table" -F "$chain" && iptables -t "$table" -X "$chain"; fi
  done
done

step "stopping harness processes"
# Their data is removed next, so a graceful shutdown buys nothing (kube-apiserver's takes 10 s).
STOP_GRACE_SECONDS=2 stop_services "${SERVICES[@]}"
done_step

step "removing network namespaces and addresses"
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^weir-(pod|svc)/ {print $1}'); do
  bash "$WEIR_ROOT/e2e/harness/netns.sh" delete "$ns"
  info "netns $ns removed"
done
# A host end outlives its namespace while anything still pins the namespace.
ip link del "$SVC_VETH" 2>/dev/null || true
bash "$WEIR_ROOT/e2e/harness/netns.sh" release
for addr in $(ip -4 -o addr show dev lo | awk '$4 ~ /^10\.244\.254\./ {print $4}'); do
  ip addr del "$addr" dev lo
done
if [[ -f "$WEIR_STATE/ip_forward.orig" ]]; then
  cat "$WEIR_STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward
  rm -f "$WEIR_STATE/ip_forward.orig"
fi
done_step

step "removing data"
rm -rf --one-file-system "$WEIR_STATE/data" "$WEIR_STATE/pids" "$WEIR_STATE/env" "$WEIR_STATE/nodes"
done_step
info "harness down (logs kept in $WEIR_STATE/logs)"
