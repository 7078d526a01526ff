#!/usr/bin/env bash
# A real Kubernetes node of the local harness: containerd and runc, the kubelet
# at the control plane's version, kube-proxy (so Services work), the CNI bridge
# inside the harness's address block, the harness's own pause image, and the
# images the suites run imported (scripts/build-image.sh: weir:dev from the
# Dockerfile, and the stand-in TaskManager).
#
#   kubelet-node.sh up <k> [pool] idempotent; node weir-node-<k> Ready (a frozen node resumes,
#                                a stopped one starts again). A node made with a pool name is
#                                labeled and tainted (NoSchedule) weir.dev/harness-pool=<pool>:
#                                only pods that tolerate it run there (up.sh's node-loss pool)
#   kubelet-node.sh freeze <k>   the kubelet and kube-proxy hang; containers run on (NotReady, zombies)
#   kubelet-node.sh stop <k>     the node dies: kubelet, kube-proxy, containerd and every container
#                                killed, nothing removed (NotReady; `up` brings it back)
#   kubelet-node.sh down <k>     stop, then remove all it made: mounts, network namespaces,
#                                links, iptables chains, cgroups, state
#
# Node k answers on 10.244.254.k; its pods get 10.245.16(k-1).0/20. Its pods
# live in cgroups nested under the cgroup the harness runs in (never at the
# root of the machine's hierarchy).
source "$(dirname "$0")/lib.sh"
source "$WEIR_ROOT/e2e/harness/services.sh"

action="${1:-}" k="${2:-}"
usage="usage: kubelet-node.sh up|freeze|stop|down <1-9> (up: [pool])"
[[ "$k" =~ ^[1-9]$ ]] || die "$usage"
node="weir-node-$k"
node_ip="10.244.254.$k"
pod_subnet="10.245.$((16 * (k - 1))).0/20"
pod_gateway="10.245.$((16 * (k - 1))).1"
bridge="weir-kbr$k"
dir="$WEIR_STATE/nodes/$node"
# Unix sockets have a 108-byte path limit; the checkout's path may be long.
run="/run/weir-harness/$node"
sock="$run/containerd.sock"
pause_image="localhost/weir-harness/pause:1"
ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }
# The node's pool is fixed when it is made, and kept with its state for every later `up`.
pool_label=weir.dev/harness-pool
pool="$(cat "$dir/pool" 2>/dev/null || true)"
if [[ -n "${3:-}" && -f "$dir/pool" && "$3" != "$pool" ]]; then
  die "$node was made in pool '${pool:-none}', not '$3' (its taints are set when it registers): harness:down first"
fi
pool="${3:-$pool}"
[[ -z "$pool" || "$pool" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "pool '$pool' is not a label value"

# cgroupRoot: the deepest cgroup the harness runs in, from any v1 hierarchy,
# plus the node's name; created below in every hierarchy (kubelet's cgroupfs
# driver uses one path in all of them).
cgroup_root() {
  local parent
  parent=$(awk -F: '$1 != 0 && $3 != "/" {print $3}' /proc/self/cgroup | awk '{print length, $0}' | sort -rn |
    head -1 | cut -d' ' -f2-)
  echo "${parent:-/weir-harness}/$node"
}
hierarchies() { find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d ! -name unified; }
# runc also makes the containers' cgroups in the v2 hierarchy of this hybrid layout.
all_hierarchies() { find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d; }

make_cgroups() { # path
  local h rel part path
  for h in $(hierarchies); do
    path="$h"
    IFS=/ read -ra rel <<<"${1#/}"
    for part in "${rel[@]}"; do
      path="$path/$part"
      if [[ ! -d "$path" ]]; then
        mkdir "$path"
        # A new cpuset has no CPUs or memory nodes; it takes its parent's.
        if [[ -f "$path/cpuset.cpus" ]]; then
          cat "$(dirname "$path")/cpuset.cpus" >"$path/cpuset.cpus"
          cat "$(dirname "$path")/cpuset.mems" >"$path/cpuset.mems"
        fi
      fi
    done
  done
}

# Kills every process in the node's cgroups: its pods' containers (the shims run in containerd's).
kill_cgroup_tree() { # path
  local h pid
  for _ in 1 2 3; do
    for h in $(all_hierarchies); do
      [[ -d "$h$1" ]] || continue
      # A cgroup may vanish while it is read (its last process just died): that is no error.
      for pid in $({ find "$h$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true; } | sort -u); do
        kill -KILL "$pid" 2>/dev/null || true
      done
    done
    sleep 0.2
  done
}

remove_cgroups() { # path
  local h
  for h in $(all_hierarchies); do
    [[ -d "$h$1" ]] || continue
    find "$h$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

build_pause_image() {
  local src="$WEIR_ROOT/e2e/harness/node/pause.c" hash out
  hash=$(sha256sum "$src" | cut -c1-12)
  out="$WEIR_CACHE/images/pause-$hash.oci.tar"
  if [[ ! -s "$out" ]]; then
    step "pause image $pause_image (static C, $src)"
    local work container
    work=$(mktemp -d)
    gcc -static -O2 -Wall -Wextra -Werror -o "$work/pause" "$src"
    container=$(buildah from scratch)
    buildah copy "$container" "$work/pause" /pause >/dev/null
    buildah config --entrypoint '["/pause"]' --cmd '' --user 65535:65535 "$container"
    buildah commit --quiet --rm "$container" "$pause_image" >/dev/null
    mkdir -p "$(dirname "$out")"
    buildah push --quiet "$pause_image" "oci-archive:$out.partial:$pause_image" >/dev/null
    mv "$out.partial" "$out"
    rm -rf "$work"
    done_step
  fi
  echo "$out"
}

# Writes stdin to the file only when it differs: kube-proxy exits when its configuration file is
# written, even with the same content, so a repeated up.sh would stop the node's kube-proxy.
write_if_changed() { # file
  local tmp="$1.new"
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

write_configs() {
  local croot="$1"
  mkdir -p "$dir"/{containerd/root,cni/net.d,cni/ipam,kubelet,pod-logs,pki} "$run"
  write_if_changed "$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$run/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  # Images are imported, never pulled: every registry is this machine's closed port 1, so a
  # missing image fails at once instead of sending traffic off the machine.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/registry"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
TOML
  mkdir -p "$dir/registry/_default"
  printf 'server = "http://127.0.0.1:1"\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n' \
    >"$dir/registry/_default/hosts.toml"
  # Pods get routes to the harness block and to Service addresses only: no
  # default route, so nothing in a pod can reach past this machine.
  write_if_changed "$dir/cni/net.d/10-weir.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$pod_subnet", "gateway": "$pod_gateway" }]],
        "routes": [{ "dst": "10.244.0.0/14" }, { "dst": "10.96.0.0/16" }],
        "dataDir": "$dir/cni/ipam"
      }
    }
  ]
}
JSON
  local register_taints=""
  [[ -n "$pool" ]] && register_taints="registerWithTaints: [ { key: $pool_label, value: $pool, effect: NoSchedule } ]"
  write_if_changed "$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1, which Kubernetes 1.35+ refuses unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $croot
containerRuntimeEndpoint: unix://$sock
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: $node_ip
healthzPort: 10248
tlsCertFile: $dir/pki/kubelet.crt
tlsPrivateKeyFile: $dir/pki/kubelet.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
# No cluster DNS here, and the machine's resolver is outside what pods may reach.
resolvConf: ""
podLogsDir: $dir/pod-logs
failSwapOn: false
# The images are imported, not pulled: garbage-collecting one would lose it.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%" }
serializeImagePulls: false
shutdownGracePeriod: 0s
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
$register_taints
YAML
  write_if_changed "$dir/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $dir/kube-proxy.kubeconfig }
mode: iptables
hostnameOverride: $node
bindAddress: $node_ip
healthzBindAddress: $node_ip:10256
metricsBindAddress: $node_ip:10249
clusterCIDR: $pod_subnet
nodePortAddresses: [ $node_ip/32 ]
# Leave the machine's conntrack and localnet settings alone.
conntrack: { maxPerCore: 0, min: 0 }
iptables: { localhostNodePorts: false }
YAML
}

write_node_pki() {
  [[ -s "$dir/pki/kubelet.crt" && -s "$dir/pki/kube-proxy.crt" ]] && return
  OSSL_LOG="$dir/pki/openssl.log"
  (
    cd "$dir/pki"
    issue_cert "$PKI/ca.crt" "$PKI/ca.key" kubelet-client "/O=system:nodes/CN=system:node:$node"
    issue_cert "$PKI/ca.crt" "$PKI/ca.key" kube-proxy "/CN=system:kube-proxy"
    issue_cert "$PKI/ca.crt" "$PKI/ca.key" kubelet "/CN=$node" "IP:$node_ip,DNS:$node"
    chmod 600 ./*.key
  )
}

import_image() { # archive
  local archive="$1" marker
  marker="$dir/imported-$(basename "$archive")"
  [[ -f "$marker" && ! "$archive" -nt "$marker" ]] && return
  local started; started=$(date +%s)
  ctr_ images import "$archive" >"$dir/import.log" 2>&1 || {
    cat "$dir/import.log" >&2
    die "importing $archive into $node failed"
  }
  touch "$marker"
  info "$node: imported $(basename "$archive") ($(du -h "$archive" | cut -f1)) in $(( $(date +%s) - started ))s"
}

up() {
  [[ -x "$K8S_BIN/kubelet" && -x "$K8S_BIN/kube-proxy" ]] || die "kubelet missing in $K8S_BIN: run build-kubernetes.sh"
  local tool
  for tool in containerd runc ctr buildah gcc /usr/lib/cni/bridge /usr/lib/cni/host-local; do
    command -v "$tool" >/dev/null || die "$tool is missing: run 'bash scripts/setup.sh'"
  done
  local pause_archive croot
  pause_archive=$(build_pause_image)
  step "kubelet node $node ($node_ip, pods $pod_subnet)"
  if [[ -f "$dir/cgroup-root" ]]; then croot=$(cat "$dir/cgroup-root"); else croot=$(cgroup_root); fi
  write_configs "$croot"
  echo "$croot" >"$dir/cgroup-root"
  printf '%s' "$pool" >"$dir/pool"
  # A frozen node resumes; nothing else changes for one that runs.
  resume
  make_cgroups "$croot"
  write_node_pki
  write_kubeconfig kubelet-client "$dir/kubelet.kubeconfig" "$dir/pki"
  write_kubeconfig kube-proxy "$dir/kube-proxy.kubeconfig" "$dir/pki"
  ip addr replace "$node_ip/32" dev lo

  start_host_service "containerd-$k" containerd --config "$dir/containerd.toml"
  wait_for "containerd-$k" 60 ctr --address "$sock" version
  import_image "$pause_archive"
  # The images scripts/build-image.sh made: weir:dev from the Dockerfile (run before the harness by
  # npm test and the demo), the suites' stand-in TaskManager and the job template's image (--test-images).
  local archive
  for archive in "$WEIR_CACHE"/images/{weir-dev,taskmanager-standin,job-template}.oci.tar; do
    if [[ -s "$archive" ]]; then
      import_image "$archive"
    else
      info "$node: no $archive (scripts/build-image.sh makes it); pods of that image cannot start here"
    fi
  done
  start_host_service "kubelet-$k" "$K8S_BIN/kubelet" --config "$dir/kubelet.yaml" \
    --kubeconfig "$dir/kubelet.kubeconfig" --root-dir "$dir/kubelet" --hostname-override "$node" \
    --node-ip "$node_ip" ${pool:+"--node-labels=$pool_label=$pool"} --v=1
  start_host_service "kube-proxy-$k" "$K8S_BIN/kube-proxy" --config "$dir/kube-proxy.yaml"
  wait_for "kubelet-$k" 120 "$K8S_BIN/kubectl" --kubeconfig "$WEIR_STATE/admin.kubeconfig" \
    wait "node/$node" --for=condition=Ready --timeout=5s
  done_step
}

ip_number() { local a b c d; IFS=. read -r a b c d <<<"$1"; echo $(( (a << 24) + (b << 16) + (c << 8) + d )); }
in_pod_subnet() { # address
  local base bits
  base=$(ip_number "${pod_subnet%/*}") bits=${pod_subnet#*/}
  (( ($(ip_number "$1") >> (32 - bits)) == (base >> (32 - bits)) ))
}

signal_node() { # signal
  local name pid
  for name in "kubelet-$k" "kube-proxy-$k"; do
    pid=$(pid_of "$name")
    if [[ -n "$pid" ]]; then kill "-$1" -- "-$pid" 2>/dev/null || true; fi
  done
}
freeze() { signal_node STOP; info "$node: kubelet and kube-proxy frozen; containers run on"; }
resume() { signal_node CONT; }

stop() {
  resume
  local croot=""
  [[ -f "$dir/cgroup-root" ]] && croot=$(cat "$dir/cgroup-root")
  stop_services "kube-proxy-$k" "kubelet-$k"
  # The shims outlive containerd; so do the containers, which sit in the node's cgroups.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $sock( |$)" 2>/dev/null || true
  [[ -n "$croot" ]] && kill_cgroup_tree "$croot"
  stop_service "containerd-$k"
}

down() {
  stop
  local croot="" ns mnt addr
  [[ -f "$dir/cgroup-root" ]] && croot=$(cat "$dir/cgroup-root")
  # Pod network namespaces containerd made: the ones holding an address of this node's subnet. Other
  # nodes going down at the same time delete theirs, so a namespace may be gone by the time it is read.
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do
    addr=$({ ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null || true; } | awk '{print $4}')
    if [[ -n "$addr" ]] && in_pod_subnet "${addr%/*}"; then ip netns del "$ns" 2>/dev/null || true; fi
  done
  # Mounts under the node's directories (volumes, rootfs, shm), deepest first.
  while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done < <(
    awk -v a="$dir/" -v b="$run/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/self/mounts | sort -r)
  if [[ -x "$K8S_BIN/kube-proxy" ]] && iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1; then
    "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  ip link del "$bridge" 2>/dev/null || true
  ip addr del "$node_ip/32" dev lo 2>/dev/null || true
  [[ -n "$croot" ]] && remove_cgroups "$croot"
  rm -rf --one-file-system "$dir" "$run"
}

case "$action" in
  up) up ;;
  freeze) freeze ;;
  stop) stop ;;
  down) down ;;
  *) die "$usage" ;;
esac
