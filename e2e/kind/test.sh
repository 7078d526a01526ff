#!/usr/bin/env bash
# npm run kind:test: creates the kind cluster (up.sh, which builds what it needs
# here), runs the kind suite against it, and deletes the cluster and stops the
# engine (down.sh) whatever the outcome. The harness may be up at the same time:
# the engine leaves its network alone (engine.sh).
#
# The suite (cluster.test.ts) covers what the local harness cannot: kind's nodes
# built here, cluster DNS, pod traffic between nodes, images loaded with
# `kind load`, and the chart's operator. The harness's suites (Kafka, MinIO and
# the runtime in the cluster) do not run here yet: see docs/status.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
trap 'bash "$here/down.sh" || true' EXIT
started=$(date +%s)
bash "$here/up.sh"
info "kind cluster up in $(( $(date +%s) - started ))s"
# shellcheck source=/dev/null
source "$root/.weir/kind/env"
cd "$root"
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec e2e/kind/cluster.test.ts
