#!/usr/bin/env bash
# npm run kind:test: creates the kind cluster (up.sh, which builds what it needs
# here), runs the kind suites against it, and deletes the cluster and stops the
# engine (down.sh) whatever the outcome.
#
# Kafka and MinIO are the local harness's, on the host, as a user's CI might run
# them beside kind (started here if the harness is not up; the engine leaves its
# network alone, engine.sh). Pods reach them by name through CoreDNS: Services
# without selectors whose endpoints are the host-side address (services.yaml),
# and a broker listener that advertises that name. The suites:
# - e2e/kind/cluster.test.ts, what the harness cannot show: kind's nodes built here,
#   cluster DNS, pod traffic between nodes, images loaded with `kind load`, the chart;
# - every e2e suite whose pods run jobs over Kafka and MinIO without the harness's
#   node hooks (KIND_SUITES below); those that kill containers, stop nodes or cut
#   pods' links skip themselves, naming the hook.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
KIND_SUITES=(
  e2e/kind/cluster.test.ts
  e2e/suites/operator/lifecycle.test.ts
  e2e/suites/operator/kubectl-plugin.test.ts
  e2e/suites/packaging/helm-install.test.ts
  e2e/suites/packaging/user-path.test.ts
  e2e/suites/monitoring/prometheus.test.ts
  e2e/suites/runtime/pod-shape.test.ts
  e2e/suites/runtime/s3-credentials.test.ts
  e2e/suites/runtime/failure-causes.test.ts
  e2e/suites/runtime/offset-reset-event.test.ts
  e2e/suites/runtime/savepoint-lifecycle.test.ts
  e2e/suites/runtime/snapshots.test.ts
  e2e/suites/runtime/upgrade.test.ts
  e2e/suites/runtime/warm-upgrade-job.test.ts
  e2e/suites/runtime/graceful-stop.test.ts
  e2e/suites/runtime/autoscaler.test.ts
)
harness_started=0
cleanup() {
  bash "$here/down.sh" || true
  if ((harness_started)); then bash "$root/e2e/harness/down.sh" || true; fi
}
trap cleanup EXIT
# Node, node_modules and the Debian packages first, as npm test and the demo do: the harness's start needs them
# (from a clean clone nothing else has installed them yet).
bash "$root/scripts/setup.sh"
if ! bash "$root/e2e/harness/status.sh" >/dev/null 2>&1; then
  step "the local harness, for its Kafka and MinIO"
  bash "$root/e2e/harness/up.sh"
  harness_started=1
  done_step
fi
started=$(date +%s)
bash "$here/up.sh"
info "kind cluster up in $(( $(date +%s) - started ))s"
# shellcheck source=/dev/null
source "$root/.weir/harness/env"
# shellcheck source=/dev/null
source "$root/.weir/kind/env"
# shellcheck source=../harness/cluster-names.env
source "$root/e2e/harness/cluster-names.env"
timeout 5 bash -c "</dev/tcp/$WEIR_SERVICES_ADDRESS/$KAFKA_CLUSTER_PORT" 2>/dev/null ||
  die "the running harness's Kafka has no listener on $WEIR_SERVICES_ADDRESS:$KAFKA_CLUSTER_PORT for pods that reach it by name (started by an older checkout?): npm run harness:down, then run this again"
# The suites' pods are kind's: the harness's nodes are not theirs to stop or cut.
unset WEIR_HARNESS_NODES
export WEIR_HARNESS_LOGS="$root/.weir/kind/logs"
cd "$root"
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "${KIND_SUITES[@]}"
