#!/usr/bin/env bash
# Creates (or reuses) the kind cluster "weir-e2e" on this machine, with nothing
# pulled from a registry: starts the project's Docker engine (engine.sh), builds
# kind from its Go module and the node image (node-image.sh), creates the cluster,
# loads the Weir image and the test images (scripts/build-image.sh) with
# `kind load image-archive`, and writes .weir/kind/env for the suites.
# Idempotent: a second run reuses the cluster and loads changed images only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
# The harness's services' address and the names its pods reach them by (cluster-names.env).
# shellcheck source=../harness/services.sh
source "$root/e2e/harness/services.sh"

cluster=weir-e2e
state="$root/.weir/kind"
mkdir -p "$state"

eval "$(bash "$here/engine.sh" up)"

tools="$WEIR_CACHE/kind/$KIND_VERSION/bin"
if [[ "$("$tools/kind" version 2>/dev/null)" != "kind $KIND_VERSION "* ]]; then
  step "kind $KIND_VERSION: building sigs.k8s.io/kind"
  rm -rf "$tools.partial" && mkdir -p "$tools.partial"
  GOBIN="$tools.partial" CGO_ENABLED=0 run_logged "$WEIR_CACHE/kind/logs/kind.log" go install "sigs.k8s.io/kind@$KIND_VERSION"
  rm -rf "$tools" && mv "$tools.partial" "$tools"
  done_step
fi
bash "$root/e2e/harness/build-go-tools.sh" helm
export PATH="$tools:$WEIR_CACHE/helm/$HELM_VERSION/bin:$WEIR_CACHE/kubernetes/$KUBERNETES_VERSION/bin:$PATH"
image=$(bash "$here/node-image.sh")

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  info "kind cluster $cluster: exists"
else
  step "kind cluster $cluster: creating (node image $image)"
  sed -e "s|KIND_POD_SUBNET|$KIND_POD_SUBNET|" -e "s|KIND_SERVICE_SUBNET|$KIND_SERVICE_SUBNET|" \
    "$here/cluster.yaml" >"$state/cluster.yaml"
  run_logged "$state/create.log" kind create cluster --name "$cluster" --image "$image" \
    --config "$state/cluster.yaml" --wait 180s
  done_step
fi
kind get kubeconfig --name "$cluster" >"$state/kubeconfig"
export KUBECONFIG="$state/kubeconfig"
step "kind cluster $cluster: waiting for every node and kube-system pod to be ready"
kubectl wait --for=condition=Ready nodes --all --timeout=180s >/dev/null
kubectl -n kube-system wait --for=condition=Ready pods --all --timeout=180s >/dev/null
done_step
# The host reaches pods as the harness's host does (the operator run by a suite calls TaskManagers' control API):
# a route to each node's pod CIDR through the node, inside the harness's block. down.sh removes them.
kubectl get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' |
  while read -r cidr address; do
    [[ "$cidr" == 10.247.* && -n "$address" ]] || die "node pod CIDR $cidr outside $KIND_POD_SUBNET"
    ip route replace "$cidr" via "$address"
  done

step "Services for the harness's Kafka and MinIO in namespace $SERVICES_NAMESPACE (e2e/kind/services.yaml)"
sed -e "s|SERVICES_NAMESPACE|$SERVICES_NAMESPACE|g" -e "s|SERVICES_ADDRESS|$SVC_ADDR|g" \
  -e "s|KAFKA_CLUSTER_SASL_SSL_PORT|$KAFKA_CLUSTER_SASL_SSL_PORT|g" -e "s|KAFKA_CLUSTER_PORT|$KAFKA_CLUSTER_PORT|g" \
  "$here/services.yaml" >"$state/services.yaml"
run_logged "$state/services.log" kubectl apply -f "$state/services.yaml"
done_step

bash "$root/scripts/setup.sh"
# shellcheck source=../../scripts/node-env.sh
source "$root/scripts/node-env.sh"
bash "$root/scripts/build-image.sh" --test-images
step "loading weir:dev and the test images (stand-in TaskManager, the job template's revenue job) into $cluster"
for archive in weir-dev taskmanager-standin job-template; do
  run_logged "$state/load.log" kind load image-archive --name "$cluster" "$WEIR_CACHE/images/$archive.oci.tar"
done
done_step

cat >"$state/env" <<ENV
# Written by e2e/kind/up.sh. Use: source $state/env
export DOCKER_HOST="$DOCKER_HOST"
export KUBECONFIG="$state/kubeconfig"
# kind, helm, kubectl and Node first; whatever else is on PATH (the harness's tools) after them.
export PATH="$tools:$WEIR_CACHE/helm/$HELM_VERSION/bin:$WEIR_CACHE/kubernetes/$KUBERNETES_VERSION/bin:$(dirname "$(command -v node)"):\$PATH"
export WEIR_KIND_CLUSTER=$cluster
# What the suites put in StreamJobs: names CoreDNS resolves to the harness's Kafka and MinIO (services.yaml).
export WEIR_POD_KAFKA_BOOTSTRAP="$KAFKA_DNS_NAME:$KAFKA_CLUSTER_PORT"
export WEIR_POD_KAFKA_SASL_SSL_BOOTSTRAP="$KAFKA_DNS_NAME:$KAFKA_CLUSTER_SASL_SSL_PORT"
export WEIR_POD_S3_ENDPOINT="http://$MINIO_DNS_NAME:9000"
export WEIR_POD_S3_TLS_ENDPOINT="https://$MINIO_DNS_NAME:9002"
ENV
info "kind cluster $cluster is ready: source $state/env"
