#!/bin/bash
# The kind nodes' network agent (what kindnet does, whose image cannot be
# pulled here): writes this node's CNI config, a ptp network over its pod CIDR
# (masquerading what leaves the node, so pods reach the host's services), and
# keeps a route to every other node's pod CIDR through that node. Runs on the
# host network of every node (DaemonSet weir-kind-cni, default-cni.yaml).
set -u
sa=/var/run/secrets/kubernetes.io/serviceaccount
conf=/host/etc/cni/net.d/10-weir-kind.conflist
# kind gives the API server's address inside the node network: no need to wait for kube-proxy's Service rules.
server="https://${CONTROL_PLANE_ENDPOINT:-$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT}"
k() { kubectl --server="$server" --token="$(cat "$sa/token")" --certificate-authority="$sa/ca.crt" "$@" </dev/null; }
trap 'exit 0' TERM INT
while true; do
  cidr=$(k get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)
  if [[ "$cidr" =~ ^[0-9.]+/[0-9]+$ ]]; then
    tmp=$(mktemp -p "$(dirname "$conf")" .weir-kind.XXXXXX)
    cat >"$tmp" <<JSON
{ "cniVersion": "0.4.0", "name": "weir-kind", "plugins": [
  { "type": "ptp", "ipMasq": true, "mtu": 1500,
    "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$cidr" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "portmap", "capabilities": { "portMappings": true } } ] }
JSON
    if cmp -s "$tmp" "$conf"; then rm -f "$tmp"; else mv "$tmp" "$conf" && echo "wrote $conf for $cidr"; fi
  fi
  k get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null |
    while read -r name podcidr address; do
      [[ "$name" == "$NODE_NAME" || -z "$podcidr" || -z "$address" ]] && continue
      ip route replace "$podcidr" via "$address"
    done
  sleep 5 &
  wait $!
done
