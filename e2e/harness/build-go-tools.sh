#!/usr/bin/env bash
# Builds etcd, helm, MinIO, Prometheus and promtool (and, on request, kwok) from the Go module proxy,
# each cached under ~/.cache/weir/<name>/<version>/bin.
# Usage: build-go-tools.sh [etcd|helm|minio|prometheus|promtool|kwok]...
# With WEIR_PREPARE_ONLY=1 each tool runs its cache-miss path up to the compile
# (module resolution, wrapper module, version flags) and stops there
# (scripts/cold-check.sh).
source "$(dirname "$0")/lib.sh"
prepare_only() { [[ "${WEIR_PREPARE_ONLY:-}" == 1 ]]; }

build_with_go_install() { # name version package ldflags
  local name="$1" version="$2" pkg="$3" ldflags="$4"
  local out="$WEIR_CACHE/$name/$version/bin"
  # The flags are part of the cache key: a binary linked with other flags is rebuilt.
  if ! prepare_only && [[ -x "$out/$name" && "$(cat "$out/.ldflags" 2>/dev/null)" == "$ldflags" ]]; then
    info "$name $version: cached in $out"
    return
  fi
  if prepare_only; then
    step "$name $version: resolving ${pkg%%/cmd/*}@$version (prepare only: no compile)"
    run_logged "$WEIR_CACHE/$name/$version/download.log" go mod download -json "${pkg%%/cmd/*}@$version"
    done_step
    return
  fi
  step "$name $version: go install $pkg@$version"
  rm -rf "$out.partial"
  GOBIN="$out.partial" CGO_ENABLED=0 run_logged "$WEIR_CACHE/$name/$version/build.log" \
    go install -trimpath -ldflags "$ldflags" "$pkg@$version"
  # The flags go in before the rename, so the cache directory is whole or absent.
  printf '%s' "$ldflags" >"$out.partial/.ldflags"
  rm -rf "$out" && mv "$out.partial" "$out"
  done_step
}

# etcd's server module has relative replaces, so `go install` refuses it: built through a wrapper module.
build_etcd() {
  local v="$ETCD_VERSION" out="$WEIR_CACHE/etcd/$ETCD_VERSION/bin"
  if ! prepare_only && [[ -x "$out/etcd" && "$("$out/etcd" --version 2>/dev/null)" == *"etcd Version: ${v#v}"* ]]; then
    info "etcd $v: cached in $out"
    return
  fi
  step "etcd $v: building go.etcd.io/etcd/server/v3 through a wrapper module"
  local src="$WEIR_CACHE/etcd/$v/src"
  wrapper_module "$src" etcd go.etcd.io/etcd/server/v3 "$v" go.etcd.io/etcd/server/v3
  if prepare_only; then
    (cd "$src" && run_logged "$src/list.log" go list -deps go.etcd.io/etcd/server/v3)
    info "prepare only: $(wc -l <"$src/list.log") packages resolve; not compiled"
    done_step
    return
  fi
  rm -rf "$out.partial" && mkdir -p "$out.partial"
  (cd "$src" && CGO_ENABLED=0 run_logged "$src/build.log" \
    go build -trimpath -ldflags "-s -w" -o "$out.partial/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$out" && mv "$out.partial" "$out"
  done_step
}

# Helm's release builds stamp the Kubernetes version its client-go speaks as the
# default for `helm template` and `helm lint`; without it Helm assumes v1.20.0
# and a chart's kubeVersion constraint fails offline.
build_helm() {
  local gomod minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  minor=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
  [[ -n "$minor" ]] || die "could not read the client-go version from helm's go.mod ($gomod)"
  local x="-X helm.sh/helm/v3"
  build_with_go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
    "-s -w $x/internal/version.version=$HELM_VERSION $x/pkg/chartutil.k8sVersionMajor=1 $x/pkg/chartutil.k8sVersionMinor=$minor $x/pkg/lint/rules.k8sVersionMajor=1 $x/pkg/lint/rules.k8sVersionMinor=$minor"
}

targets=("$@")
((${#targets[@]})) || targets=(etcd helm minio prometheus promtool)
for t in "${targets[@]}"; do
  case "$t" in
    etcd) build_etcd ;;
    helm) build_helm ;;
    minio) build_with_go_install minio "$MINIO_VERSION" github.com/minio/minio "-s -w" ;;
    kwok) build_with_go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok "-s -w" ;;
    # Without the web UI's assets (they come from an npm build, not the module): the API, rules and
    # alerts all work.
    prometheus | promtool)
      build_with_go_install "$t" "$PROMETHEUS_VERSION" "github.com/prometheus/prometheus/cmd/$t" "-s -w" ;;
    *) die "unknown tool '$t' (expected etcd, helm, minio, prometheus, promtool or kwok)" ;;
  esac
done
