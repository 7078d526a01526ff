#!/usr/bin/env bash
# Builds the kind node image for the harness's Kubernetes version, with nothing
# pulled from a registry (none is reachable here), the way kind's own base image
# and `kind build node-image` make one:
#   - a Debian root file system (mmdebstrap) with systemd, Debian's containerd and
#     runc, the CNI plugins, iptables and conntrack, and kind's base files (its
#     entrypoint, systemd units and containerd config) from the sigs.k8s.io/kind module;
#   - kubeadm, kubelet and kubectl built from k8s.io/kubernetes (the harness's build);
#   - the control plane's images, made here from binaries built from their Go modules
#     (kube-apiserver, -controller-manager, -scheduler, kube-proxy, etcd, CoreDNS) and
#     pause built from Kubernetes' C source, at the versions kubeadm asks for, and the
#     nodes' network agent (node/cni-agent.sh); all imported into the node's containerd.
# Needs the kind engine up (engine.sh). Prints the image's tag. Cached: the image in the
# engine's data root, and its archive under $WEIR_CACHE/kind/node-image (each step
# writes under a .partial name, renamed once whole).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../harness/lib.sh
source "$here/../harness/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/weir-kind-docker/docker.sock}"

v="$KUBERNETES_VERSION"
tag="weir.dev/kind-node:$v-$KIND_NODE_RECIPE"
cache="$WEIR_CACHE/kind/node-image"
archive="$cache/kind-node-$v-$KIND_NODE_RECIPE.tar"
work="$WEIR_CACHE/kind/build"
logs="$WEIR_CACHE/kind/logs"
mkdir -p "$cache" "$work" "$logs"

if docker image inspect "$tag" >/dev/null 2>&1; then
  info "kind node image $tag: in the engine"
  printf '%s\n' "$tag"
  exit 0
fi
if [[ -f "$archive" ]]; then
  step "kind node image $tag: loading $archive"
  docker load -i "$archive" >/dev/null
  done_step
  printf '%s\n' "$tag"
  exit 0
fi

for tool in mmdebstrap gcc go docker python3; do
  command -v "$tool" >/dev/null || die "$tool is missing: run 'bash scripts/setup.sh'"
done
kind_src=$(cd "$work" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
k8s_src=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$v" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')

# --- binaries -------------------------------------------------------------
bash "$WEIR_ROOT/e2e/harness/build-kubernetes.sh" >&2
k8s_bin="$WEIR_CACHE/kubernetes/$v/bin"
bin="$WEIR_CACHE/kind/bin/$v"
mkdir -p "$bin"

# kubeadm, from the harness's wrapper module (its staging modules mapped to their releases) with one more command.
if [[ "$("$bin/kubeadm" version -o short 2>/dev/null)" != "$v" ]]; then
  step "kubeadm $v: building k8s.io/kubernetes/cmd/kubeadm"
  src="$work/kubeadm-$v"
  rm -rf "$src" && mkdir -p "$src"
  cp "$WEIR_CACHE/kubernetes/$v/src/go.mod" "$WEIR_CACHE/kubernetes/$v/src/go.sum" "$src/"
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubeadm"\n' >"$src/tools.go"
  IFS=. read -r major minor _ <<<"${v#v}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$src" && run_logged "$logs/kubeadm.log" go mod tidy)
  (cd "$src" && CGO_ENABLED=0 run_logged "$logs/kubeadm.log" \
    go build -trimpath -ldflags "$ldflags" -o "$bin/kubeadm.partial" k8s.io/kubernetes/cmd/kubeadm)
  mv "$bin/kubeadm.partial" "$bin/kubeadm"
  [[ "$("$bin/kubeadm" version -o short)" == "$v" ]] || die "kubeadm does not report $v"
  done_step
fi

# What kubeadm of this version runs: registry.k8s.io/<name>:<tag> for etcd, CoreDNS and pause.
images=$("$bin/kubeadm" config images list --kubernetes-version "$v" 2>/dev/null)
image_of() { grep -E "^registry\.k8s\.io/(coredns/)?$1:" <<<"$images" || die "kubeadm lists no $1 image"; }
etcd_image=$(image_of etcd)
coredns_image=$(image_of coredns)
pause_image=$(image_of pause)
etcd_version="v${etcd_image##*:}" && etcd_version="${etcd_version%-0}"
coredns_version="${coredns_image##*:}"
pause_version="${pause_image##*:}"

# A Go command built through a wrapper module that requires its module (lib.sh: etcd's relative replaces keep
# `go install` out).
go_command() { # name module version package
  local name=$1 module=$2 version=$3 package=$4 out="$bin/$1-$3"
  [[ -x "$out" ]] && return 0
  step "$name $version: building $package"
  local src="$work/$name-$version"
  wrapper_module "$src" "$name" "$module" "$version" "$package"
  (cd "$src" && CGO_ENABLED=0 run_logged "$logs/$name.log" go build -trimpath -ldflags "-s -w" -o "$out.partial" "$package")
  mv "$out.partial" "$out"
  done_step
}
go_command etcd go.etcd.io/etcd/server/v3 "$etcd_version" go.etcd.io/etcd/server/v3
go_command coredns github.com/coredns/coredns "$coredns_version" github.com/coredns/coredns
if [[ ! -x "$bin/pause-$pause_version" ]]; then
  step "pause $pause_version: gcc -static build/pause/linux/pause.c"
  gcc -Os -static -DVERSION="v$pause_version" -o "$bin/pause-$pause_version.partial" "$k8s_src/build/pause/linux/pause.c"
  mv "$bin/pause-$pause_version.partial" "$bin/pause-$pause_version"
  done_step
fi
"$bin/etcd-$etcd_version" --version | grep -q "etcd Version: ${etcd_version#v}" || die "etcd does not report $etcd_version"
"$bin/coredns-$coredns_version" -version | grep -q "CoreDNS-${coredns_version#v}" || die "CoreDNS does not report $coredns_version"

# --- root file systems ------------------------------------------------------
# rootfs NAME PACKAGES: a Debian bookworm minbase with PACKAGES, imported as weir.dev/kind-rootfs/NAME.
rootfs() {
  local name=$1 packages=$2 image="weir.dev/kind-rootfs/$1:$KIND_NODE_RECIPE"
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  step "$image: mmdebstrap bookworm ($packages)"
  rm -rf "$work/$name.partial.tar"
  # shellcheck disable=SC2016
  run_logged "$logs/rootfs-$name.log" mmdebstrap --variant=minbase --format=tar --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$work/$name.partial.tar" http://deb.debian.org/debian
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$work/$name.partial.tar" "$image" >/dev/null
  rm -f "$work/$name.partial.tar"
  done_step
}
rootfs node "systemd,systemd-sysv,dbus,iptables,iproute2,ethtool,util-linux,mount,kmod,conntrack,ebtables,libseccomp2,pigz,ca-certificates,socat,containerd,runc,containernetworking-plugins,procps,rsync,fuse-overlayfs"
rootfs net "iptables,iproute2,conntrack,kmod,ca-certificates"

# --- component images ---------------------------------------------------------
images_dir="$work/images-$v-$KIND_NODE_RECIPE"
rm -rf "$images_dir" && mkdir -p "$images_dir"
cni_image="weir.dev/kind-cni:$KIND_NODE_RECIPE"
component() { # image base file-in-image source [entrypoint]
  local image=$1 base=$2 path=$3 source=$4 ctx
  ctx=$(mktemp -d -p "$work")
  cp "$source" "$ctx/binary"
  {
    echo "FROM $base"
    echo "COPY binary $path"
    echo "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ -n "${5:-}" ]] && echo "ENTRYPOINT [\"$5\"]"
  } >"$ctx/Dockerfile"
  docker build -q -t "$image" "$ctx" >/dev/null 2>>"$logs/images.log"
  docker save "$image" -o "$images_dir/$(tr '/:' '__' <<<"$image").tar"
  rm -rf "$ctx"
  info "$image"
}
step "component images for Kubernetes $v"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  component "registry.k8s.io/$c:$v" scratch "/usr/local/bin/$c" "$k8s_bin/$c" "/usr/local/bin/$c"
done
component "registry.k8s.io/kube-proxy:$v" "weir.dev/kind-rootfs/net:$KIND_NODE_RECIPE" /usr/local/bin/kube-proxy "$k8s_bin/kube-proxy" /usr/local/bin/kube-proxy
component "$etcd_image" scratch /usr/local/bin/etcd "$bin/etcd-$etcd_version"
component "$coredns_image" scratch /coredns "$bin/coredns-$coredns_version" /coredns
component "$pause_image" scratch /pause "$bin/pause-$pause_version" /pause
ctx=$(mktemp -d -p "$work")
cp "$k8s_bin/kubectl" "$here/node/cni-agent.sh" "$ctx/"
printf 'FROM weir.dev/kind-rootfs/net:%s\nCOPY kubectl cni-agent.sh /usr/local/bin/\nENTRYPOINT ["/usr/local/bin/cni-agent.sh"]\n' \
  "$KIND_NODE_RECIPE" >"$ctx/Dockerfile"
docker build -q -t "$cni_image" "$ctx" >/dev/null 2>>"$logs/images.log"
docker save "$cni_image" -o "$images_dir/cni.tar"
rm -rf "$ctx"
info "$cni_image"
done_step

# --- the node image -----------------------------------------------------------
step "kind node image $tag"
ctx=$(mktemp -d -p "$work")
cp -r "$kind_src/images/base/files" "$ctx/files"
chmod -R u+w "$ctx/files"
python3 "$here/node/containerd.patch.py" "$ctx/files" "$pause_image"
cp "$bin/kubeadm" "$k8s_bin/kubelet" "$k8s_bin/kubectl" "$ctx/"
bash "$here/engine.sh" shim-path >"$ctx/shim-path"
cp "$(cat "$ctx/shim-path")" "$ctx/weir-kind-runc"
sed "s|WEIR_KIND_CNI_IMAGE|$cni_image|" "$here/node/default-cni.yaml" >"$ctx/default-cni.yaml"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM weir.dev/kind-rootfs/node:$KIND_NODE_RECIPE
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
COPY kubeadm kubelet kubectl /usr/bin/
COPY weir-kind-runc /usr/local/bin/weir-kind-runc
COPY default-cni.yaml /kind/manifests/default-cni.yaml
RUN chmod 755 /usr/local/bin/* /kind/bin/* /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /opt/cni/bin /etc/kubernetes/manifests \\
 && cp /usr/lib/cni/* /opt/cni/bin/ \\
 && echo "$v" > /kind/version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
DOCKERFILE
docker build -q -t "$tag-stage" "$ctx" >/dev/null 2>>"$logs/images.log"
rm -rf "$ctx"
# The images go into the node's containerd as kind's own build puts them: in a running node, then committed.
stage="weir-kind-node-stage-$$"
docker rm -f "$stage" >/dev/null 2>&1 || true
docker run -d --name "$stage" --privileged --security-opt seccomp=unconfined --tmpfs /tmp --tmpfs /run \
  -v /lib/modules:/lib/modules:ro -v "$images_dir:/kind/images:ro" --entrypoint /sbin/init "$tag-stage" >/dev/null
for _ in $(seq 1 60); do docker exec "$stage" ctr version >/dev/null 2>&1 && break; sleep 0.5; done
for archive_in in "$images_dir"/*.tar; do
  docker exec "$stage" ctr -n k8s.io images import --all-platforms "/kind/images/$(basename "$archive_in")" >>"$logs/images.log" 2>&1 ||
    { docker rm -f "$stage" >/dev/null; die "importing $(basename "$archive_in") into the node failed (log: $logs/images.log)"; }
done
imported=$(docker exec "$stage" ctr -n k8s.io images ls -q | grep -c -v '^sha256:')
docker exec "$stage" systemctl stop containerd
docker stop "$stage" >/dev/null
docker commit -c 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' "$stage" "$tag" >/dev/null
docker rm "$stage" >/dev/null
docker rmi "$tag-stage" >/dev/null
info "$imported images in the node's containerd"
docker save "$tag" -o "$archive.partial" && mv "$archive.partial" "$archive"
rm -rf "$images_dir"
done_step
printf '%s\n' "$tag"
