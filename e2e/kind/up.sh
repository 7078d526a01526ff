#!/usr/bin/env bash
# Creates (or reuses) the kind cluster "weir-e2e", builds the Weir image and the
# stand-in TaskManager image, loads both into the cluster, starts Kafka and
# MinIO in it, and writes .weir/kind/env for the suites. Needs Docker; kind,
# kubectl and helm are taken from PATH or installed from the Go module proxy.
# Idempotent: a second run rebuilds and reloads the images only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"

cluster=weir-e2e
state="$root/.weir/kind"
mkdir -p "$state"

command -v docker >/dev/null || die "kind needs Docker, and there is no docker command here"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed)"

tools="$WEIR_CACHE/kind/$KIND_VERSION/bin"
if ! command -v kind >/dev/null; then
  if [[ ! -x "$tools/kind" ]]; then
    step "kind $KIND_VERSION: go install sigs.k8s.io/kind@$KIND_VERSION"
    GOBIN="$tools" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
    done_step
  fi
  export PATH="$tools:$PATH"
fi
if ! command -v helm >/dev/null; then
  bash "$root/e2e/harness/build-go-tools.sh" helm
  export PATH="$WEIR_CACHE/helm/$HELM_VERSION/bin:$PATH"
fi
if ! command -v kubectl >/dev/null; then
  bash "$root/e2e/harness/build-kubernetes.sh"
  export PATH="$WEIR_CACHE/kubernetes/$KUBERNETES_VERSION/bin:$PATH"
fi

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  info "kind cluster $cluster: exists"
else
  step "kind cluster $cluster: creating (node image $KIND_NODE_IMAGE)"
  kind create cluster --name "$cluster" --image "$KIND_NODE_IMAGE" --config "$here/cluster.yaml" --wait 120s
  done_step
fi
kind get kubeconfig --name "$cluster" >"$state/kubeconfig"
export KUBECONFIG="$state/kubeconfig"

step "image weir:dev: docker build (Dockerfile at the repository root)"
docker build --tag weir:dev "$root"
done_step
step "image weir-test/taskmanager-standin:e2e: docker build"
docker build --tag weir-test/taskmanager-standin:e2e \
  --file "$here/taskmanager-standin.Dockerfile" "$root/e2e/support"
done_step
step "loading both images into $cluster"
kind load docker-image --name "$cluster" weir:dev weir-test/taskmanager-standin:e2e
done_step

step "Kafka and MinIO in namespace weir-services"
kubectl apply -f "$here/services.yaml"
kubectl -n weir-services rollout status deployment/kafka --timeout=180s
kubectl -n weir-services rollout status deployment/minio --timeout=180s
done_step

cat >"$state/env" <<ENV
# Written by e2e/kind/up.sh. Use: source $state/env
export KUBECONFIG="$state/kubeconfig"
export PATH="$PATH"
export WEIR_KAFKA_BOOTSTRAP=127.0.0.1:30094
export WEIR_S3_ENDPOINT=http://127.0.0.1:30900
export WEIR_S3_ACCESS_KEY=weir-e2e
export WEIR_S3_SECRET_KEY=weir-e2e-secret
export WEIR_S3_BUCKET=weir
export WEIR_S3_REGION=us-east-1
export WEIR_E2E_OPERATOR_IMAGE=weir:dev
ENV
# shellcheck source=/dev/null
source "$state/env"
bash "$root/scripts/setup.sh"
source "$root/scripts/node-env.sh"
node "$root/e2e/harness/ensure-bucket.ts" "$WEIR_S3_BUCKET"
info "kind cluster $cluster is ready: source $state/env"
