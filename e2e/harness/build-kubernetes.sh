#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, and
# the node's kubelet and kube-proxy from the k8s.io/kubernetes Go module. That module replaces its staging
# modules with relative paths, so `go install` cannot build it; a wrapper
# module that maps each staging module to its published v0.Y.Z can.
# With WEIR_PREPARE_ONLY=1 it writes and resolves the wrapper module, checks
# that every command's package loads, and stops before the compile
# (scripts/cold-check.sh).
source "$(dirname "$0")/lib.sh"

v="$KUBERNETES_VERSION"
out="$WEIR_CACHE/kubernetes/$v/bin"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
# A binary is trusted only if it runs and reports the pinned version (the
# build stamps it), so a truncated or foreign file is rebuilt.
cached() {
  local b
  for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || return 1; done
  [[ "$("$out/kubectl" version --client 2>/dev/null)" == *"$v"* ]] || return 1
  [[ "$("$out/kube-apiserver" --version 2>/dev/null)" == "Kubernetes $v" ]]
}
if [[ "${WEIR_PREPARE_ONLY:-}" != 1 ]] && cached; then
  info "kubernetes $v: cached in $out"
  exit 0
fi

step "kubernetes $v: preparing wrapper module"
src="$WEIR_CACHE/kubernetes/$v/src"
mkdir -p "$src"
gomod_json=$(go mod download -json "k8s.io/kubernetes@$v")
upstream_gomod=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])' <<<"$gomod_json")
go_directive=$(awk '$1=="go"{print $2; exit}' "$upstream_gomod")
staging_minor="v0.${v#v1.}"
{
  echo "module weir.dev/harness/kubernetes"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $v"
  echo
  grep -oE '^\s*k8s.io/[a-z0-9-]+ => \./staging/src/k8s.io/[a-z0-9-]+' "$upstream_gomod" \
    | awk -v sv="$staging_minor" '{print "replace " $1 " => " $1 " " sv}'
} >"$src/go.mod"
info "$(grep -c '^replace' "$src/go.mod") staging modules mapped to $staging_minor (go $go_directive)"
{
  echo "//go:build tools"
  echo
  echo "package tools"
  echo
  echo "import ("
  for b in "${bins[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
  echo ")"
} >"$src/tools.go"
(cd "$src" && run_logged "$src/tidy.log" go mod tidy)
pkgs=()
for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
done_step
if [[ "${WEIR_PREPARE_ONLY:-}" == 1 ]]; then
  step "kubernetes $v: loading ${bins[*]} (prepare only: no compile)"
  (cd "$src" && run_logged "$src/list.log" go list -deps "${pkgs[@]}")
  info "$(wc -l <"$src/list.log") packages resolve"
  done_step
  exit 0
fi

step "kubernetes $v: compiling ${bins[*]} (cold: tens of minutes on 2 cores)"
IFS=. read -r major minor _ <<<"${v#v}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# Built beside the cache and renamed whole, so an interrupted build leaves
# nothing a later run could take for finished binaries.
rm -rf "$out.partial" && mkdir -p "$out.partial"
(cd "$src" && CGO_ENABLED=0 run_logged "$src/build.log" go build -trimpath -ldflags "$ldflags" -o "$out.partial/" "${pkgs[@]}")
rm -rf "$out" && mv "$out.partial" "$out"
cached || die "the built binaries do not report $v (log: $src/build.log)"
done_step
"$out/kubectl" version --client
