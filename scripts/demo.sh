#!/usr/bin/env bash
# The README's first command: installs what is missing, brings the local real
# cluster up, and shows it working. The harness stays up for you to use;
# `npm run harness:down` removes it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/e2e/harness/lib.sh"

bash "$root/scripts/setup.sh"
bash "$root/e2e/harness/up.sh"
# shellcheck source=/dev/null
source "$WEIR_STATE/env"

step "the cluster"
kubectl version
kubectl get nodes -o wide
bash "$root/e2e/harness/status.sh"

cat <<USAGE

The local harness is up. In your shell:

  source $WEIR_STATE/env          # KUBECONFIG, kubectl, helm, WEIR_S3_*, WEIR_KAFKA_BOOTSTRAP
  kubectl get nodes
  kubectl run hello --image=weir-harness/shell --restart=Never -- 'echo hello'
  kubectl logs hello
  npm run harness:status
  npm run harness:down            # stops everything and removes namespaces, addresses and data

Kafka:  $WEIR_KAFKA_BOOTSTRAP      MinIO (S3): $WEIR_S3_ENDPOINT bucket $WEIR_S3_BUCKET
Logs:   $WEIR_HARNESS_LOGS
USAGE
